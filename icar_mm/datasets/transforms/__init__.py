"""Data transforms of icar_mm (registered in mmpretrain's TRANSFORMS)."""
from .caption import CleanWebCaption, clean_caption
from .loading import BadSampleError, LoadImageChecked, decode_image

__all__ = [
    'BadSampleError', 'CleanWebCaption', 'LoadImageChecked', 'clean_caption',
    'decode_image'
]
