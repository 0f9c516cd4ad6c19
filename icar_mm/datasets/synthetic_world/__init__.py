"""The embedded default data of icar_mm: a small synthetic image world.

Generated deterministically from a seed, so the demo and the tests need no
download; pure numpy + OpenCV, apart from the mmpretrain datasets of
:mod:`.datasets`. The design (scenes, classes, names and descriptions,
captions, splits, the detection / segmentation / video variants, and why)
is in ``docs/synthetic_world.md``. One concept per module:

* :mod:`.vocabulary`: attribute words, synonyms, glosses, nonce names;
* :mod:`.classes`: the fixed seen / held-out class table;
* :mod:`.scenes`: scene sampling; :mod:`.rendering`: scene -> pixels;
* :mod:`.captions`: web-like captions; :mod:`.splits`: sample sets;
* :mod:`.streams`: the named random streams behind every sample;
* :mod:`.world`: :class:`SyntheticWorld`, combining the above;
* :mod:`.export`: loose files and webdataset shards;
* :mod:`.datasets`: the mmpretrain datasets and the ``synthetic_world``
  class-text source;
* :mod:`.instances` (COCO detection), :mod:`.semantic` (segmentation),
  :mod:`.clips` (video): the downstream variants.
"""
from .captions import CAPTION_TEMPLATES, mentions
from .classes import HELDOUT_PAIRS
from .clips import SyntheticWorldClips, clip_class_texts
from .datasets import (SyntheticWorldCaptionDataset, SyntheticWorldClsDataset,
                       synthetic_world_class_texts)
from .export import export_synthetic_world_webdataset
from .instances import export_coco_instances
from .semantic import export_semantic, semantic_class_texts
from .splits import DATASET_SPLITS
from .vocabulary import (COLOUR_RGB, COLOUR_SYNONYMS, COLOURS, NONCE_NAMES,
                         SHAPE_GLOSSES, SHAPE_SYNONYMS, SHAPES, SIZES,
                         TEXTURES)
from .world import SyntheticWorld, build_world

__all__ = [
    'SyntheticWorld', 'build_world', 'COLOURS', 'SHAPES', 'TEXTURES',
    'SIZES', 'COLOUR_RGB', 'COLOUR_SYNONYMS', 'SHAPE_SYNONYMS',
    'SHAPE_GLOSSES', 'NONCE_NAMES', 'HELDOUT_PAIRS', 'CAPTION_TEMPLATES',
    'DATASET_SPLITS', 'mentions', 'SyntheticWorldClsDataset',
    'SyntheticWorldCaptionDataset', 'synthetic_world_class_texts',
    'export_synthetic_world_webdataset', 'export_coco_instances',
    'export_semantic', 'semantic_class_texts', 'SyntheticWorldClips',
    'clip_class_texts'
]
