"""Datasets of icar_mm."""
from .image_text_dataset import ImageTextDataset
from .synthetic_world import SyntheticWorld
from .synthetic_world_dataset import (SyntheticWorldCaptionDataset,
                                      SyntheticWorldClsDataset,
                                      synthetic_world_class_texts)

__all__ = [
    'ImageTextDataset', 'SyntheticWorld', 'SyntheticWorldCaptionDataset',
    'SyntheticWorldClsDataset', 'synthetic_world_class_texts'
]
