"""icar_mm: iCAR (image classification + image-text alignment) for OpenMMLab.

Importing the package applies the stack fixes (:mod:`icar_mm.utils.compat`)
and registers the core components (models, datasets, loops, hooks) in
mmpretrain's registries. It never imports mmdet, mmseg or mmaction2.
"""
from .utils.compat import apply_compat

apply_compat()

from . import datasets, engine, models  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
