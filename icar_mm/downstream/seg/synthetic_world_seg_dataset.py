"""The synthetic world as an mmseg dataset (base / novel vocabularies)."""
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import get_dist_info, barrier
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS as SEG_DATASETS

from icar_mm.datasets.synthetic_world.semantic import (export_semantic,
                                                       num_files,
                                                       semantic_class_names)


@SEG_DATASETS.register_module()
class SyntheticWorldSegDataset(BaseSegDataset):
    """Synthetic-world semantic segmentation, written on first use.

    Label maps on disk hold global ids (0 background, 1-26 seen, 27-36
    held-out; see :mod:`icar_mm.datasets.synthetic_world.semantic`).
    ``vocabulary`` picks the classes of this dataset; mmseg's label map turns
    the global ids into its ids and every other class into ``ignore_index``:
    ``'seen'`` = base (training), ``'all'`` = base + novel (generalised
    open-vocabulary evaluation), ``'heldout'`` = background + novel only.

    Args:
        data_root (str): Root of the written data (created if missing).
        split (str): ``'train'`` (seen classes only) or ``'val'`` (all).
        vocabulary (str): ``'seen'``, ``'heldout'`` or ``'all'``.
        num_images (int): Images to write when the split is missing.
            Defaults to 400.
        world (dict, optional): ``SyntheticWorld`` kwargs (``image_size``...)
            used when writing.
        **kwargs: ``BaseSegDataset`` arguments (``pipeline``...).
    """

    METAINFO = dict(classes=tuple(semantic_class_names('all')))

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 vocabulary: str = 'seen',
                 num_images: int = 400,
                 world: Optional[Dict] = None,
                 **kwargs) -> None:
        img_dir = osp.join('img', split)
        ann_dir = osp.join('ann', split)
        if num_files(osp.join(data_root, ann_dir)) < num_images:
            rank, _ = get_dist_info()
            if rank == 0:
                export_semantic(data_root, {split: num_images}, world)
            barrier()
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('classes',
                            tuple(semantic_class_names(vocabulary)))
        super().__init__(
            data_root=data_root,
            data_prefix=dict(img_path=img_dir, seg_map_path=ann_dir),
            img_suffix='.png',
            seg_map_suffix='.png',
            metainfo=metainfo,
            **kwargs)
        self.split, self.vocabulary = split, vocabulary
