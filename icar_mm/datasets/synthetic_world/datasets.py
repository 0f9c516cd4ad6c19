"""mmpretrain datasets over the in-memory :class:`~.world.SyntheticWorld`.

The images are generated (not read from files) when the dataset is fully
initialised and kept in the dataset's data list, so pipelines start from
``results['img']`` (a BGR uint8 array) and must not contain
``LoadImageFromFile``. Example::

    train_dataloader = dict(
        dataset=dict(
            type='SyntheticWorldClsDataset', split='train', num_per_class=100,
            world=dict(seed=0, image_size=64),
            pipeline=[dict(type='RandomFlip', prob=0.5),
                      dict(type='PackInputs')]))
    caption_dataloader = dict(
        dataset=dict(
            type='SyntheticWorldCaptionDataset', num_samples=3000,
            pipeline=[dict(type='PackInputs', algorithm_keys=['text'])]))

Captions may mention the position of the object ("near the top left"), so
caption pipelines should not flip or crop the images much; classification
labels do not depend on the position.

The class texts of the world are also a class-text source named
``'synthetic_world'`` (``source=dict(type='synthetic_world', split='seen')``).
See ``docs/synthetic_world.md``.
"""
from typing import List, Optional, Sequence

from mmpretrain.datasets import BaseDataset

from icar_mm.registry import CLASS_TEXT_SOURCES, DATASETS
from .splits import DATASET_SPLITS
from .world import WorldCfg, build_world


def _check_no_classes(kwargs: dict, name: str) -> None:
    if kwargs.get('classes') is not None or 'classes' in (
            kwargs.get('metainfo') or {}):
        raise ValueError(f'{name}: the classes are fixed by the synthetic '
                         'world; do not pass `classes` or metainfo classes')


@DATASETS.register_module()
class SyntheticWorldClsDataset(BaseDataset):
    """Image classification on the synthetic world, held in memory.

    Args:
        split (str): ``'train'`` or ``'val'`` (independent samples of the
            seen classes), ``'heldout'`` (the held-out classes, labels
            ``0..H-1`` in held-out class order, for zero-shot evaluation) or
            ``'heldout_train'`` (another sample of the held-out classes, for
            few-shot). Defaults to ``'train'``.
        num_per_class (int): Images per class. Defaults to 50.
        world (dict | SyntheticWorld, optional): ``SyntheticWorld`` kwargs.
            Defaults to ``dict(seed=0, image_size=64)``.
        seed (int): Seed of the sample set. Defaults to 0.
        pipeline (Sequence): Transforms, starting from ``results['img']``.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments
            (``indices``, ``test_mode``, ``lazy_init``, ``metainfo``...).

    ``metainfo``: ``classes`` (class names) and ``class_texts`` (the
    ``dict(name, description, aliases)`` list). Each data info
    has ``img``, ``gt_label``, ``img_shape`` and ``ori_shape``.
    """

    def __init__(self,
                 split: str = 'train',
                 num_per_class: int = 50,
                 world: WorldCfg = None,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in DATASET_SPLITS:
            raise ValueError(f'{type(self).__name__}: unknown split '
                             f'{split!r}; choose from {list(DATASET_SPLITS)}')
        _check_no_classes(kwargs, type(self).__name__)
        self.split = split
        self.num_per_class = int(num_per_class)
        self.seed = int(seed)
        self.world = build_world(world)
        texts = self.world.classes(split)
        metainfo = dict(
            classes=tuple(t['name'] for t in texts),
            class_texts=texts,
            **(kwargs.pop('metainfo', None) or {}))
        super().__init__(
            ann_file='', metainfo=metainfo, pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Generate the samples (called once, at full initialisation)."""
        data_list = []
        for img, label in self.world.split_samples(self.split,
                                                   self.num_per_class,
                                                   self.seed):
            shape = img.shape[:2]
            data_list.append(
                dict(img=img, gt_label=int(label), img_shape=shape,
                     ori_shape=shape))
        return data_list

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'World: \t{self.world!r}', f'Split: \t{self.split}',
            f'Images per class: \t{self.num_per_class}', f'Seed: \t{self.seed}'
        ]


@DATASETS.register_module()
class SyntheticWorldCaptionDataset(BaseDataset):
    """Image-text pairs of the synthetic world, held in memory.

    Args:
        num_samples (int): Number of pairs. Defaults to 2000.
        include_heldout (bool): Whether held-out (colour, shape) combinations
            appear (web data covers everything). Defaults to True.
        world (dict | SyntheticWorld, optional): ``SyntheticWorld`` kwargs.
            Defaults to ``dict(seed=0, image_size=64)``.
        seed (int): Seed of the sample set. Defaults to 0.
        pipeline (Sequence): Transforms, starting from ``results['img']``;
            end with ``PackInputs(algorithm_keys=['text'])``.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments.

    Each data info has ``img``, ``text`` (the caption; tokenisation happens
    in the model), ``img_shape`` and ``ori_shape``.
    """

    def __init__(self,
                 num_samples: int = 2000,
                 include_heldout: bool = True,
                 world: WorldCfg = None,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        _check_no_classes(kwargs, type(self).__name__)
        self.num_samples = int(num_samples)
        self.include_heldout = bool(include_heldout)
        self.seed = int(seed)
        self.world = build_world(world)
        super().__init__(ann_file='', pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Generate the pairs (called once, at full initialisation)."""
        data_list = []
        for img, caption in self.world.caption_samples(
                self.num_samples, self.seed, self.include_heldout):
            shape = img.shape[:2]
            data_list.append(
                dict(img=img, text=caption, img_shape=shape, ori_shape=shape))
        return data_list

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'World: \t{self.world!r}',
            f'Include held-out combinations: \t{self.include_heldout}',
            f'Seed: \t{self.seed}'
        ]


@CLASS_TEXT_SOURCES.register_module(name='synthetic_world')
def synthetic_world_class_texts(split: str = 'seen',
                                world: Optional[dict] = None,
                                **kwargs) -> list:
    """Class texts of the synthetic world (a class-text source).

    Args:
        split (str): ``'seen'``, ``'heldout'`` or ``'all'``; dataset splits
            (``'train'``, ``'val'``, ``'heldout_train'``) map to their world
            split.
        world (dict, optional): ``SyntheticWorld`` kwargs (the classes do
            not depend on them; accepted so a config can share one dict).
        **kwargs: Also ``SyntheticWorld`` kwargs.

    Returns:
        list[dict]: ``dict(name=str, description=str, aliases=list[str])``
        per class, in label order.
    """
    return build_world({**(world or {}), **kwargs}).classes(split)
