"""Data transforms of icar_mm."""
from .caption import CleanWebCaption, TokenizeCaption, clean_caption
from .loading import BadSampleError, LoadImageChecked, decode_image

__all__ = [
    'BadSampleError', 'CleanWebCaption', 'LoadImageChecked',
    'TokenizeCaption', 'clean_caption', 'decode_image'
]
