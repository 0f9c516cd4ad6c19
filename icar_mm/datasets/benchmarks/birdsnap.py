"""Birdsnap (Berg et al., CVPR 2014): 500 North American bird species."""
import csv
import os.path as osp
from typing import List

from mmpretrain.datasets import BaseDataset

from icar_mm.registry import DATASETS


def _read_tsv(path: str) -> List[dict]:
    with open(path, encoding='utf-8', newline='') as f:
        return list(csv.DictReader(f, delimiter='\t'))


def clip_birdsnap_name(common_name: str) -> str:
    """CLIP's spelling of a Birdsnap species: no apostrophes, no hyphens."""
    return common_name.replace("'", '').replace('-', ' ')


@DATASETS.register_module()
class Birdsnap(BaseDataset):
    """Birdsnap, read from the layout of the official release.

    The release (``birdsnap.tgz``) has only image URLs; its
    ``get_birdsnap.py`` downloads the images into ``download/images``.
    Many URLs have died, so every copy of Birdsnap is a subset: images
    that are listed but absent are skipped (``num_missing`` says how many).
    Layout::

        birdsnap/                       (data_root)
        ├── species.txt                 id, common, scientific, dir (TSV, header)
        ├── images.txt                  url, md5, path, species_id, bb_x1, ...
        ├── test_images.txt             path (header), one test image a line
        └── download/images/
            └── Acadian_Flycatcher/
                └── 0001.jpg ...        path = "Acadian_Flycatcher/0001.jpg"

    ``split='test'`` is the official test list (2,443 images when complete),
    ``'train'`` every other image of ``images.txt``. Labels are
    ``species_id - 1``; ``metainfo['classes']`` are the common names.

    Args:
        data_root (str): The ``birdsnap`` folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'test'``.
        image_prefix (str): Image folder under ``data_root``.
            Defaults to ``'download/images'``.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'test',
                 image_prefix: str = 'download/images',
                 **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"Birdsnap split must be 'train' or 'test', "
                             f'got {split!r}')
        self.split = split
        self.num_missing = 0
        species = _read_tsv(osp.join(data_root, 'species.txt'))
        species.sort(key=lambda r: int(r['id']))
        if [int(r['id']) for r in species] != list(
                range(1, len(species) + 1)):
            raise ValueError(f'{data_root}/species.txt: ids must be 1..N.')
        metainfo = dict(
            classes=tuple(r['common'] for r in species),
            **(kwargs.pop('metainfo', None) or {}))
        super().__init__(
            ann_file='images.txt',
            data_root=data_root,
            data_prefix=image_prefix,
            metainfo=metainfo,
            test_mode=split == 'test',
            **kwargs)

    def load_data_list(self) -> List[dict]:
        rows = _read_tsv(self.ann_file)
        with open(osp.join(self.data_root, 'test_images.txt'),
                  encoding='utf-8') as f:
            lines = [line.strip() for line in f if line.strip()]
        test = set(lines[1:] if lines and lines[0] == 'path' else lines)
        data_list = []
        for row in rows:
            if (row['path'] in test) != (self.split == 'test'):
                continue
            img_path = osp.join(self.img_prefix, row['path'])
            if not osp.isfile(img_path):
                self.num_missing += 1
                continue
            data_list.append(
                dict(img_path=img_path, gt_label=int(row['species_id']) - 1))
        return data_list

    def extra_repr(self) -> List[str]:
        return [f'Root: \t{self.data_root}', f'Split: \t{self.split}',
                f'Listed but missing images: \t{self.num_missing}']
