"""LVIS v1 restricted to its base (non-rare) categories."""
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import LVISV1Dataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class LVISV1BaseDataset(LVISV1Dataset):
    """LVIS v1 whose label space leaves out the novel frequency groups.

    The open-vocabulary LVIS protocol treats the rare categories as novel:
    training must not see their labels. Their boxes are removed (the images
    stay) and the remaining categories are relabelled ``0..K-1`` in
    category-id order, which is the order of the class-text source
    ``dict(type='coco-categories', ann_file=..., frequency=('c', 'f'))``;
    ``metainfo['classes']`` becomes their names.

    Args:
        novel_frequency (Sequence[str]): Frequency groups left out.
            Defaults to ``('r', )``.
        **kwargs: :class:`LVISV1Dataset` arguments.
    """

    def __init__(self,
                 *args,
                 novel_frequency: Sequence[str] = ('r', ),
                 **kwargs) -> None:
        self.novel_frequency = tuple(novel_frequency)
        self._remap: Optional[Dict[int, int]] = None
        self._base_names: tuple = ()
        super().__init__(*args, **kwargs)

    def _base_labels(self) -> Dict[int, int]:
        if self._remap is None:  # self.lvis exists while parsing
            cats = [self.lvis.cats[c] for c in self.cat_ids]
            keep = [
                c for c in cats if c['frequency'] not in self.novel_frequency
            ]
            self._remap = {
                self.cat2label[c['id']]: i
                for i, c in enumerate(keep)
            }
            self._base_names = tuple(c['name'] for c in keep)
        return self._remap

    def parse_data_info(self, raw_data_info: dict) -> dict:
        info = super().parse_data_info(raw_data_info)
        remap = self._base_labels()
        info['instances'] = [
            dict(inst, bbox_label=remap[inst['bbox_label']])
            for inst in info['instances'] if inst['bbox_label'] in remap
        ]
        return info

    def load_data_list(self) -> List[dict]:
        self._remap = None
        data_list = super().load_data_list()
        self._metainfo['classes'] = self._base_names
        return data_list
