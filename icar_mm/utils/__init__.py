from .compat import apply_compat, apply_mmaction_compat
from .setup_env import register_all_modules

__all__ = ['apply_compat', 'apply_mmaction_compat', 'register_all_modules']
