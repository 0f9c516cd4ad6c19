"""mmseg adapter: text cosine decode / auxiliary heads, the segmentor that
shares their text classifier and swaps vocabularies, and the synthetic-world
segmentation dataset.

Importing this package imports mmseg and registers into mmseg's registries;
configs load it with
``custom_imports = dict(imports=['icar_mm.downstream.seg'],
allow_failed_imports=False)``.
"""
import mmseg  # noqa: F401  (fails here, clearly, without mmsegmentation)

import icar_mm.datasets.synthetic_world.semantic  # noqa: F401 class texts
from .dataset_class_texts import mmseg_dataset_class_texts
from .open_vocab_iou_metric import OpenVocabIoUMetric
from .synthetic_world_seg_dataset import SyntheticWorldSegDataset
from .text_cosine_seg_head import (TextCosineFCNHead, TextCosineSegHeadMixin,
                                   TextCosineUPerHead)
from .text_encoder_decoder import TextEncoderDecoder

__all__ = [
    'mmseg_dataset_class_texts', 'OpenVocabIoUMetric',
    'SyntheticWorldSegDataset', 'TextCosineFCNHead', 'TextCosineSegHeadMixin',
    'TextCosineUPerHead', 'TextEncoderDecoder'
]
