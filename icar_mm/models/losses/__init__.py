from .contrastive_loss import ContrastiveLoss
from .sigmoid_contrastive_loss import SigmoidContrastiveLoss

__all__ = ['ContrastiveLoss', 'SigmoidContrastiveLoss']
