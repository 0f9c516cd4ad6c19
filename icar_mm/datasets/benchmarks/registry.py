"""The zero-shot benchmarks: ImageNet-1K and Kornblith et al.'s 12 datasets.

For each benchmark, :data:`BENCHMARKS` holds where it lives under a data
root (the layouts of mmpretrain's dataset classes, documented in each
class; Birdsnap in :class:`.Birdsnap`), the dataset config of each split,
CLIP's class names and templates (:mod:`icar_mm.class_texts.clip_prompts`)
and the protocol's metric. Default folders under ``--data-root``::

    imagenet/            val/ (+ meta/val.txt)               ImageNet
    food-101/            images/, meta/{train,test}.txt      Food101
    cifar10/             cifar-10-batches-py/                CIFAR10
    cifar100/            cifar-100-python/                   CIFAR100
    birdsnap/            species.txt, images.txt, ...        Birdsnap
    SUN397/              SUN397/a/abbey/..., Partitions/     SUN397
    Stanford_Cars/       cars_annos.mat, car_ims/            StanfordCars
                         (or devkit/ + cars_{train,test}/)
    fgvc-aircraft-2013b/ data/images/, data/images_variant_*.txt
    VOCdevkit/VOC2007/   JPEGImages/, Annotations/, ImageSets/Main/
    dtd/                 images/<class>/, imdb/imdb.mat      DTD
    Oxford-IIIT_Pets/    images/, annotations/{trainval,test}.txt
    caltech-101/         101_ObjectCategories/, meta/{train,test}.txt
    Flowers102/          jpg/, imagelabels.mat, setid.mat    Flowers102
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from icar_mm.class_texts.clip_prompts import CLASSNAMES, TEMPLATES


@dataclass(frozen=True)
class BenchmarkSpec:
    """One zero-shot benchmark.

    Attributes:
        name (str): Key (also of CLIP's class names / templates).
        title (str): Display name.
        type (str): Registered dataset class.
        folder (str): Default folder under the data root.
        marker (str): A file or folder (relative to ``folder``) whose
            presence means the dataset is there.
        metric (str): ``'top1'``, ``'mean_per_class'`` or ``'map11'``.
        splits (dict): Split role (``'train'``, ``'val'``, ``'test'``) ->
            the dataset's own split name; no ``'val'``: carve it out of
            ``'train'`` (linear probe).
        kwargs (dict): Extra dataset arguments.
        multilabel (bool): Multi-label targets (VOC 2007).
        imagenet_descriptions (bool): Class ``i`` is ImageNet-1K synset
            ``i`` (WordNet glosses available).
        in_memory (bool): The dataset yields decoded images (``img``), not
            files: pipelines start after ``LoadImageFromFile`` (CIFAR).
    """
    name: str
    title: str
    type: str
    folder: str
    marker: str
    metric: str
    splits: Dict[str, str]
    kwargs: Dict = field(default_factory=dict)
    multilabel: bool = False
    imagenet_descriptions: bool = False
    in_memory: bool = False

    @property
    def classnames(self) -> List[str]:
        return list(CLASSNAMES[self.name])

    @property
    def templates(self) -> List[str]:
        return list(TEMPLATES[self.name])

    def root(self, data_root: str,
             dirs: Optional[Dict[str, str]] = None) -> str:
        """Where the dataset lives (``dirs`` overrides, absolute or not)."""
        folder = (dirs or {}).get(self.name, self.folder)
        return folder if osp.isabs(folder) else osp.join(data_root, folder)

    def is_present(self, data_root: str,
                   dirs: Optional[Dict[str, str]] = None) -> bool:
        return osp.exists(osp.join(self.root(data_root, dirs), self.marker))

    def dataset_cfg(self,
                    data_root: str,
                    role: str = 'test',
                    pipeline: Sequence = (),
                    dirs: Optional[Dict[str, str]] = None) -> dict:
        """The dataset config of a split role (``'train'/'val'/'test'``)."""
        if role not in self.splits:
            raise KeyError(f'{self.title} has no {role!r} split; it has '
                           f'{sorted(self.splits)}.')
        pipeline = [
            t for t in pipeline
            if not (self.in_memory and t['type'] == 'LoadImageFromFile')
        ]
        cfg = dict(
            type=self.type,
            data_root=self.root(data_root, dirs),
            split=self.splits[role],
            pipeline=pipeline,
            **self.kwargs)
        return cfg


def _spec(*args, **kwargs) -> BenchmarkSpec:
    return BenchmarkSpec(*args, **kwargs)


TRAIN_TEST = dict(train='train', test='test')

#: Benchmarks by name, in the order of the reports (ImageNet first, then
#: Kornblith-12 in the order of CLIP's table).
BENCHMARKS: Dict[str, BenchmarkSpec] = {
    s.name: s
    for s in [
        _spec('imagenet', 'ImageNet-1K', 'ImageNet', 'imagenet', 'val',
              'top1', dict(train='train', test='val'),
              imagenet_descriptions=True),
        _spec('food101', 'Food-101', 'Food101', 'food-101', 'meta/test.txt',
              'top1', TRAIN_TEST),
        _spec('cifar10', 'CIFAR-10', 'CIFAR10Benchmark', 'cifar10',
              'cifar-10-batches-py', 'top1', TRAIN_TEST, in_memory=True),
        _spec('cifar100', 'CIFAR-100', 'CIFAR100Benchmark', 'cifar100',
              'cifar-100-python', 'top1', TRAIN_TEST, in_memory=True),
        _spec('birdsnap', 'Birdsnap', 'Birdsnap', 'birdsnap',
              'test_images.txt', 'top1', TRAIN_TEST),
        _spec('sun397', 'SUN397', 'SUN397', 'SUN397',
              'Partitions/Testing_01.txt', 'top1', TRAIN_TEST),
        _spec('stanford_cars', 'Stanford Cars', 'StanfordCars',
              'Stanford_Cars', '', 'top1', TRAIN_TEST),
        _spec('fgvc_aircraft', 'FGVC Aircraft', 'FGVCAircraft',
              'fgvc-aircraft-2013b', 'data/images_variant_test.txt',
              'mean_per_class', dict(train='train', val='val', test='test')),
        _spec('voc2007', 'PASCAL VOC 2007', 'VOC', 'VOCdevkit/VOC2007',
              'ImageSets/Main/test.txt', 'map11',
              dict(train='train', val='val', test='test'), multilabel=True),
        _spec('dtd', 'DTD', 'DTD', 'dtd', 'imdb/imdb.mat', 'top1',
              dict(train='train', val='val', test='test')),
        _spec('oxford_pets', 'Oxford-IIIT Pets', 'OxfordIIITPet',
              'Oxford-IIIT_Pets', 'annotations/test.txt', 'mean_per_class',
              dict(train='trainval', test='test')),
        _spec('caltech101', 'Caltech-101', 'Caltech101', 'caltech-101',
              'meta/test.txt', 'mean_per_class', TRAIN_TEST),
        _spec('flowers102', 'Oxford Flowers-102', 'Flowers102', 'Flowers102',
              'setid.mat', 'mean_per_class',
              dict(train='train', val='val', test='test')),
    ]
}

#: Kornblith et al. (2019)'s 12 datasets, as evaluated by CLIP and iCAR.
KORNBLITH12 = [n for n in BENCHMARKS if n != 'imagenet']


def get_benchmark(name: str) -> BenchmarkSpec:
    key = name.lower().replace('-', '_')
    aliases = dict(cars='stanford_cars', aircraft='fgvc_aircraft',
                   pets='oxford_pets', flowers='flowers102', voc='voc2007',
                   imagenet1k='imagenet', in1k='imagenet')
    key = aliases.get(key, key)
    if key not in BENCHMARKS:
        raise KeyError(f'Unknown benchmark {name!r}; known: '
                       f'{list(BENCHMARKS)} (or "kornblith12", "all").')
    return BENCHMARKS[key]


def resolve_benchmarks(names: Sequence[str]) -> List[BenchmarkSpec]:
    """Names (``'all'``, ``'kornblith12'`` expand) -> specs, no repeats."""
    out: List[BenchmarkSpec] = []
    for name in names:
        if name == 'all':
            specs = list(BENCHMARKS.values())
        elif name.lower() in ('kornblith12', 'kornblith-12'):
            specs = [BENCHMARKS[n] for n in KORNBLITH12]
        else:
            specs = [get_benchmark(name)]
        out += [s for s in specs if s not in out]
    return out
