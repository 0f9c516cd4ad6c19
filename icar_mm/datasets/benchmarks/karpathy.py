"""COCO / Flickr30K image-text retrieval, Karpathy split."""
import json
import os.path as osp
from typing import List

from mmengine.fileio import get_local_path
from mmpretrain.datasets import BaseDataset

from icar_mm.registry import DATASETS


@DATASETS.register_module()
class KarpathyRetrievalDataset(BaseDataset):
    """Images with their captions, from Karpathy's split files.

    Reads ``dataset_coco.json`` / ``dataset_flickr30k.json`` (Karpathy &
    Fei-Fei 2015; the files the retrieval literature uses: 5,000 COCO test
    images, 1,000 Flickr30K test images, about 5 captions each)::

        {"dataset": "coco", "images": [
            {"filepath": "val2014", "filename": "COCO_val2014_...jpg",
             "split": "test", "sentences": [{"raw": "A man ..."}, ...]},
            ...]}

    Layout (``data_root``)::

        coco/  dataset_coco.json, val2014/*.jpg, train2014/*.jpg
        flickr30k/  dataset_flickr30k.json, flickr30k-images/*.jpg
                    (set ``data_prefix='flickr30k-images'``; Flickr30K
                    entries have no ``filepath``)

    Each data info has ``img_path`` and ``texts`` (the raw captions). The
    dataset's ``captions`` / ``caption_image`` list every caption and the
    index of its image, in order.

    Args:
        ann_file (str): The Karpathy JSON file, relative to ``data_root``.
        split (str): ``'test'``, ``'val'``, ``'train'`` (``'restval'``
            counts as train). Defaults to ``'test'``.
        data_root (str): Root. data_prefix (str): Image folder prefix.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments.
    """

    def __init__(self, ann_file: str, split: str = 'test',
                 data_root: str = '', data_prefix: str = '',
                 **kwargs) -> None:
        self.split = split
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        with open(get_local_path(self.ann_file), encoding='utf-8') as f:
            data = json.load(f)
        wanted = {'train', 'restval'} if self.split == 'train' else {
            self.split}
        data_list = []
        for img in data['images']:
            if img.get('split') not in wanted:
                continue
            path = osp.join(self.img_prefix, img.get('filepath', ''),
                            img['filename'])
            texts = [s['raw'].strip() for s in img['sentences']]
            data_list.append(dict(img_path=path, texts=texts))
        if not data_list:
            raise ValueError(f'{self.ann_file}: no image in split '
                             f'{self.split!r}.')
        return data_list

    @property
    def captions(self) -> List[str]:
        return [t for i in range(len(self)) for t in
                self.get_data_info(i)['texts']]

    @property
    def caption_image(self) -> List[int]:
        return [i for i in range(len(self)) for _ in
                self.get_data_info(i)['texts']]
