from .compat import apply_compat, apply_mmaction_compat

__all__ = ['apply_compat', 'apply_mmaction_compat']
