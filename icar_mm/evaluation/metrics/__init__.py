from .zero_shot_metric import ZeroShotMetric, multilabel_targets

__all__ = ['ZeroShotMetric', 'multilabel_targets']
