"""Class names and templates against clip-benchmark's copies of CLIP's.

clip-benchmark ships CLIP's templates for every benchmark here except
Birdsnap, and CLIP's curated class names for ImageNet, Pets, Caltech-101
and Flowers-102 (for the others it takes the dataset's own names, which
are ours with ``_`` -> space). Deliberate differences: none in content;
VOC 2007 classes follow the dataset's alphabetical label order (as in
clip-benchmark), not the order printed in CLIP's prompts.md.
"""
import json
import os.path as osp

import pytest

import icar_mm  # noqa: F401
from icar_mm.class_texts.clip_prompts import CLASSNAMES, TEMPLATES
from icar_mm.datasets.benchmarks import BENCHMARKS, clip_birdsnap_name

cb = pytest.importorskip('clip_benchmark')
CB_DIR = osp.join(osp.dirname(cb.__file__), 'datasets')
CB_KEYS = dict(imagenet='imagenet1k', food101='food101', cifar10='cifar10',
               cifar100='cifar100', sun397='sun397', stanford_cars='cars',
               fgvc_aircraft='fgvc_aircraft', voc2007='voc2007', dtd='dtd',
               oxford_pets='pets', caltech101='caltech101',
               flowers102='flowers')


def _load(name):
    with open(osp.join(CB_DIR, name), encoding='utf-8') as f:
        return json.load(f)


def test_templates_match_clip_benchmark():
    cb_templates = _load('en_zeroshot_classification_templates.json')
    for name, key in CB_KEYS.items():
        expected = [t.replace('{c}', '{}') for t in cb_templates[key]]
        assert TEMPLATES[name] == expected, name
    # Birdsnap is not in clip-benchmark: CLIP's prompts.md has one template
    assert TEMPLATES['birdsnap'] == ['a photo of a {}, a type of bird.']
    assert {len(TEMPLATES[n]) for n in ('cifar10', 'cifar100')} == {18}
    assert len(TEMPLATES['imagenet']) == 80


def test_curated_class_names_match_clip_benchmark():
    cb_names = _load('en_classnames.json')
    for name, key in [('imagenet', 'imagenet1k'), ('oxford_pets', 'pets'),
                      ('caltech101', 'caltech101'),
                      ('flowers102', 'flowers')]:
        assert CLASSNAMES[name] == cb_names[key], name


def test_dataset_names_align_with_mmpretrain_label_order():
    import mmpretrain.datasets.categories as cat
    pairs = dict(food101=cat.FOOD101_CATEGORIES,
                 cifar10=cat.CIFAR10_CATEGORIES,
                 cifar100=cat.CIFAR100_CATEGORIES,
                 sun397=cat.SUN397_CATEGORIES,
                 stanford_cars=cat.STANFORDCARS_CATEGORIES,
                 fgvc_aircraft=cat.FGVCAIRCRAFT_CATEGORIES,
                 voc2007=cat.VOC2007_CATEGORIES, dtd=cat.DTD_CATEGORIES)
    for name, native in pairs.items():
        assert CLASSNAMES[name] == [c.replace('_', ' ') for c in native]
    # Caltech-101: same order as the dataset's folders, CLIP's wording
    assert len(cat.CALTECH101_CATEGORIES) == len(CLASSNAMES['caltech101'])
    assert CLASSNAMES['caltech101'][:5] == [
        'background', 'off-center face', 'centered face', 'leopard',
        'motorbike']


def test_every_benchmark_has_names_templates_and_metric():
    sizes = dict(imagenet=1000, food101=101, cifar10=10, cifar100=100,
                 birdsnap=500, sun397=397, stanford_cars=196,
                 fgvc_aircraft=100, voc2007=20, dtd=47, oxford_pets=37,
                 caltech101=102, flowers102=102)
    assert set(BENCHMARKS) == set(sizes)
    for name, spec in BENCHMARKS.items():
        assert len(spec.classnames) == sizes[name], name
        assert all(t.count('{}') == 1 for t in spec.templates), name
    metrics = {n: s.metric for n, s in BENCHMARKS.items()}
    assert {n for n, m in metrics.items() if m == 'mean_per_class'} == {
        'fgvc_aircraft', 'oxford_pets', 'caltech101', 'flowers102'}
    assert metrics['voc2007'] == 'map11'
    # Birdsnap: CLIP drops apostrophes and hyphens of the common names
    assert clip_birdsnap_name("Allen's Hummingbird") == 'Allens Hummingbird'
    assert clip_birdsnap_name('Black-and-white Warbler') == \
        'Black and white Warbler'
    assert 'Allens Hummingbird' in CLASSNAMES['birdsnap']
