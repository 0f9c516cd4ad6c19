"""icar_mm: iCAR (image classification + image-text alignment) for OpenMMLab."""
from .utils.compat import apply_compat

apply_compat()

from .version import __version__  # noqa: E402

__all__ = ['__version__']
