from .hf_clip_vision import CLIP_MEAN, CLIP_STD, HFCLIPVisionBackbone

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'HFCLIPVisionBackbone']
