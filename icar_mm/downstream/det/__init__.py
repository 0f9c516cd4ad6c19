"""mmdet adapter: RoI box heads classified by iCAR's text classifier.

Importing this package imports mmdet and registers into mmdet's registries
(load it from a config with
``custom_imports = dict(imports=['icar_mm.downstream.det'])``). Nothing
else in icar_mm imports it.
"""
import icar_mm  # noqa: F401  (stack fixes before mmdet is imported)
import mmdet.models  # noqa: F401,E402

from .class_texts import coco_category_texts  # noqa: E402
from .lvis_base_dataset import LVISV1BaseDataset  # noqa: E402
from .text_bbox_head import (TextConvFCBBoxHead,  # noqa: E402
                             TextShared2FCBBoxHead,
                             TextShared4Conv1FCBBoxHead)
from .vocabulary import set_detector_vocabulary  # noqa: E402

__all__ = [
    'TextConvFCBBoxHead', 'TextShared2FCBBoxHead',
    'TextShared4Conv1FCBBoxHead', 'set_detector_vocabulary',
    'coco_category_texts', 'LVISV1BaseDataset'
]
