"""One config entry for the three image-text formats of OpenCLIP users.

``type='AutoImageTextDataset'`` builds

* an :class:`ImageTextDataset` (map-style) when ``ann_file`` is a CSV/TSV
  or JSON-lines file of image paths and captions;
* a :class:`WebImageTextDataset` (streamed) when ``ann_file`` names
  webdataset shards (``.tar`` files, brace patterns, ``::``-joined
  patterns, a list, ``pipe:``...),

so a config switches from loose files to shards by one key, e.g.
``--cfg-options train_dataloader.itc.dataset.ann_file='shards/{000000..
000009}.tar'``. ``image_key`` / ``caption_key`` / ``sep`` / ``data_prefix``
only concern CSV/JSONL; ``image_ext`` / ``caption_ext`` / ``resampled`` /
``epoch_samples`` / ``sources``... only shards.
"""
from typing import Optional

from icar_mm.registry import DATASETS
from .image_text_dataset import ImageTextDataset
from .web_image_text_dataset import WebImageTextDataset
from .webdataset_utils import is_shard_spec

_CSV_ONLY = ('image_key', 'caption_key', 'sep', 'data_prefix', 'lazy_init',
             'indices', 'serialize_data', 'max_refetch', 'test_mode',
             'filter_cfg', 'metainfo', 'source_name', 'max_consecutive_bad')
_WDS_ONLY = ('image_ext', 'caption_ext', 'caption_field', 'batch_size',
             'resampled', 'epoch_samples', 'shuffle', 'shuffle_buffer',
             'shuffle_initial', 'partial_batches', 'seed', 'rank',
             'world_size', 'decode_backend', 'name', 'sources',
             'max_consecutive_bad')


def image_text_dataset_class(cfg: dict) -> type:
    """The class :func:`AutoImageTextDataset` builds for ``cfg``."""
    if cfg.get('sources') is not None or is_shard_spec(cfg.get('ann_file')):
        return WebImageTextDataset
    return ImageTextDataset


@DATASETS.register_module()
def AutoImageTextDataset(ann_file=None, data_root: str = '',
                         pipeline=(), skip_bad_samples: bool = True,
                         source_name: Optional[str] = None, **kwargs):
    """Build the image-text dataset of ``ann_file``'s format.

    Args:
        ann_file (str | list): A ``.csv``/``.tsv``/``.jsonl`` file, or
            webdataset shards.
        data_root (str): Root of ``ann_file`` (and of the images / shards).
        pipeline (Sequence): The sample pipeline (shared by both formats;
            see :class:`WebImageTextDataset` for the image loader).
        skip_bad_samples (bool): Skip and count bad samples. Defaults to
            True (training).
        source_name (str, optional): Name in the logs.
        **kwargs: Arguments of the chosen class; those of the other format
            at their neutral values are dropped.

    Returns:
        ImageTextDataset | WebImageTextDataset: The dataset.
    """
    cfg = dict(kwargs, ann_file=ann_file)
    cls = image_text_dataset_class(cfg)
    if cls is WebImageTextDataset:
        drop = set(_CSV_ONLY) - set(_WDS_ONLY)
        wds_kwargs = {k: v for k, v in kwargs.items() if k not in drop}
        if wds_kwargs.get('sources') is None:
            wds_kwargs.pop('sources', None)
            wds_kwargs['urls'] = ann_file
            wds_kwargs.setdefault('name', source_name or 'webdataset')
        return WebImageTextDataset(
            data_root=data_root,
            pipeline=pipeline,
            skip_bad_samples=skip_bad_samples,
            **wds_kwargs)
    drop = set(_WDS_ONLY) - set(_CSV_ONLY)
    csv_kwargs = {k: v for k, v in kwargs.items() if k not in drop}
    return ImageTextDataset(
        ann_file=ann_file,
        data_root=data_root,
        pipeline=pipeline,
        skip_bad_samples=skip_bad_samples,
        source_name=source_name,
        **csv_kwargs)
