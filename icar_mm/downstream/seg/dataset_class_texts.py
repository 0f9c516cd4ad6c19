"""Class-text source: the class list of a registered mmseg dataset."""
from typing import Dict, List

from mmseg.registry import DATASETS as SEG_DATASETS

from icar_mm.registry import CLASS_TEXT_SOURCES


@CLASS_TEXT_SOURCES.register_module(name='mmseg_dataset_classes')
def mmseg_dataset_class_texts(dataset: str) -> List[Dict]:
    """Names of an mmseg dataset's classes, in label order (no description).

    ``ClassTextBank(source=dict(type='mmseg_dataset_classes',
    dataset='ADE20KDataset'), use_descriptions=False)`` scores ADE20K's 150
    classes; for iCAR's enriched names give ``classes=`` + a class-text
    ``file=`` instead.

    Args:
        dataset (str): A dataset type registered in mmseg
            (``'ADE20KDataset'``, ``'PascalContextDataset59'``,
            ``'COCOStuffDataset'``...).

    Returns:
        list[dict]: ``dict(name, description='', aliases=[])`` per class.
    """
    cls = SEG_DATASETS.get(dataset)
    if cls is None:
        raise KeyError(f'mmseg_dataset_classes: {dataset!r} is not a '
                       'registered mmseg dataset (e.g. ADE20KDataset, '
                       'PascalContextDataset59, COCOStuffDataset).')
    classes = cls.METAINFO.get('classes')
    if not classes:
        raise ValueError(f'mmseg_dataset_classes: {dataset} has no '
                         "METAINFO['classes'].")
    return [dict(name=c, description='', aliases=[]) for c in classes]
