"""The mmaction2 adapter: iCAR's text-classifier head for video recognition.

Importing this package applies the mmaction2 fixes of the pinned stack
(:func:`icar_mm.utils.compat.apply_mmaction_compat`), imports mmaction2 and
registers into its registries:

* ``TextRecognizerHead`` (``mmaction.registry.MODELS``): pool -> dropout ->
  projection -> cosine against text class embeddings;
* ``SyntheticWorldClipDataset`` (``mmaction.registry.DATASETS``);
* the class-text sources ``kinetics-400`` and ``synthetic_world_clips``.

Load it from a config with
``custom_imports = dict(imports=['icar_mm.downstream.action'],
allow_failed_imports=False)``.
"""
import sys
import types

from icar_mm.utils.compat import apply_mmaction_compat


def _complete_drn_placeholder() -> None:
    """Make the ``drn`` placeholder importable as ``drn.drn`` too.

    mmaction2 1.2.0 does ``from .drn.drn import DRN``; the compat layer's
    placeholder for the missing ``drn`` folder is a plain module, so the
    submodule import fails. Make it a package with a ``drn`` submodule.
    """
    parent = sys.modules.get('mmaction.models.localizers.drn')
    if parent is None or hasattr(parent, '__path__'):
        return
    parent.__path__ = []
    name = 'mmaction.models.localizers.drn.drn'
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.DRN = None
        sys.modules[name] = module
        parent.drn = module


apply_mmaction_compat()
_complete_drn_placeholder()

import mmaction.datasets  # noqa: E402,F401
import mmaction.models  # noqa: E402,F401

from icar_mm.datasets.synthetic_world.clips import clip_class_texts  # noqa
from .class_texts import kinetics400_class_texts  # noqa: E402
from .synthetic_clip_dataset import SyntheticWorldClipDataset  # noqa: E402
from .text_recognizer_head import TextRecognizerHead  # noqa: E402

__all__ = [
    'TextRecognizerHead', 'SyntheticWorldClipDataset',
    'kinetics400_class_texts', 'clip_class_texts'
]
