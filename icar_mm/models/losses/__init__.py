from .contrastive_loss import ContrastiveLoss

__all__ = ['ContrastiveLoss']
