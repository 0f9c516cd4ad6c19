"""Datasets of icar_mm."""
from . import transforms  # noqa: F401 (registers the transforms)
from .class_text_dataset import ClassTextDataset
from .data_health import (DataHealth, SkipBadSamplesMixin,
                          TooManyBadSamplesError, collate_with_stats)
from .image_text_dataset import ImageTextDataset
from .image_text_source import AutoImageTextDataset
from .labelled_image_dataset import ImageNetDescribed, LabelledImageDataset
from .synthetic_world import (SyntheticWorld, SyntheticWorldCaptionDataset,
                              SyntheticWorldClips, SyntheticWorldClsDataset,
                              clip_class_texts, export_semantic,
                              export_synthetic_world_webdataset,
                              semantic_class_texts,
                              synthetic_world_class_texts)
from .two_stream_dataloader import TwoStreamDataLoader, stream_schedule
from .web_image_text_dataset import WebImageTextDataset
from .webdataset_utils import (expand_urls, is_shard_spec,
                               write_image_text_shards)

__all__ = [
    'ClassTextDataset',
    'AutoImageTextDataset', 'DataHealth', 'ImageNetDescribed',
    'ImageTextDataset', 'LabelledImageDataset', 'SkipBadSamplesMixin',
    'SyntheticWorld', 'SyntheticWorldCaptionDataset', 'SyntheticWorldClips',
    'SyntheticWorldClsDataset', 'TooManyBadSamplesError',
    'TwoStreamDataLoader', 'WebImageTextDataset', 'clip_class_texts',
    'collate_with_stats',
    'expand_urls', 'export_synthetic_world_webdataset', 'is_shard_spec',
    'export_semantic', 'semantic_class_texts',
    'stream_schedule', 'synthetic_world_class_texts',
    'write_image_text_shards'
]
