"""Benchmark dataset classes read tiny fake copies of the real layouts.

Each layout is written with real JPEG files (synthetic-world images) in the
folder structure and annotation formats of the official releases (see
``icar_mm/datasets/benchmarks/registry.py``), then loaded through the
benchmark spec exactly as ``tools/evaluate.py`` loads it.
"""
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest

import icar_mm  # noqa: F401
from icar_mm.datasets.benchmarks import BENCHMARKS, Birdsnap
from icar_mm.evaluation.benchmark import image_pipeline
from icar_mm.registry import DATASETS

IMG = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)


def _jpg(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, IMG)


def _write(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def food101(root):
    for c in ('apple_pie', 'waffles'):
        for i in (1, 2):
            _jpg(f'{root}/images/{c}/{i}.jpg')
    _write(f'{root}/meta/train.txt', 'apple_pie/1\nwaffles/1\n')
    _write(f'{root}/meta/test.txt', 'apple_pie/2\nwaffles/2\n')
    return 2, [0, 100]


def sun397(root):
    _jpg(f'{root}/SUN397/a/abbey/sun_a.jpg')
    _jpg(f'{root}/SUN397/y/youth_hostel/sun_b.jpg')
    _jpg(f'{root}/SUN397/a/apse/indoor/sun_c.jpg')
    _write(f'{root}/Partitions/Training_01.txt', '/a/abbey/sun_a.jpg\n')
    _write(f'{root}/Partitions/Testing_01.txt',
           '/y/youth_hostel/sun_b.jpg\n/a/apse/indoor/sun_c.jpg\n')
    return 2, [396, 9]


def fgvc_aircraft(root):
    for n in ('0001', '0002'):
        _jpg(f'{root}/data/images/{n}.jpg')
    for split in ('train', 'val', 'trainval'):
        _write(f'{root}/data/images_variant_{split}.txt', '0001 707-320\n')
    _write(f'{root}/data/images_variant_test.txt', '0002 Yak-42\n')
    return 1, [99]


def oxford_pets(root):
    _jpg(f'{root}/images/Abyssinian_1.jpg')
    _jpg(f'{root}/images/yorkshire_terrier_2.jpg')
    _write(f'{root}/annotations/trainval.txt', 'Abyssinian_1 1 1 1\n')
    _write(f'{root}/annotations/test.txt', 'yorkshire_terrier_2 37 2 25\n')
    return 1, [36]


def caltech101(root):
    _jpg(f'{root}/101_ObjectCategories/Faces/image_0001.jpg')
    _jpg(f'{root}/101_ObjectCategories/yin_yang/image_0001.jpg')
    _write(f'{root}/meta/train.txt', 'Faces/image_0001.jpg 1\n')
    _write(f'{root}/meta/test.txt', 'yin_yang/image_0001.jpg 101\n'
           'Faces/image_0001.jpg 1\n')
    return 2, [101, 1]


def birdsnap(root):
    _write(f'{root}/species.txt', 'id\tcommon\tscientific\tdir\n' + ''.join(
        f'{i}\tBird {i}\tAvis {i}\tBird_{i}\n' for i in range(1, 501)))
    rows = ['url\tmd5\tpath\tspecies_id\tbb_x1\tbb_y1\tbb_x2\tbb_y2']
    for i, sid in enumerate((1, 500, 2, 7)):
        rows.append(f'http://x/{i}.jpg\t0\tBird_{sid}/{i}.jpg\t{sid}'
                    '\t0\t0\t5\t5')
        if i != 3:  # the last image failed to download
            _jpg(f'{root}/download/images/Bird_{sid}/{i}.jpg')
    _write(f'{root}/images.txt', '\n'.join(rows) + '\n')
    _write(f'{root}/test_images.txt',
           'path\nBird_1/0.jpg\nBird_500/1.jpg\nBird_7/3.jpg\n')
    return 2, [0, 499]


def voc2007(root):
    objs = {'000001': [('dog', 0), ('person', 1)], '000002': [('cat', 0)]}
    for img_id, obs in objs.items():
        _jpg(f'{root}/JPEGImages/{img_id}.jpg')
        body = ''.join(f'<object><name>{n}</name><difficult>{d}</difficult>'
                       '</object>' for n, d in obs)
        _write(f'{root}/Annotations/{img_id}.xml',
               f'<annotation>{body}</annotation>')
    _write(f'{root}/ImageSets/Main/test.txt', '000001\n000002\n')
    return 2, None


def cifar10(root):
    base = f'{root}/cifar-10-batches-py'
    os.makedirs(base)
    data = np.zeros((2, 3072), np.uint8)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        with open(f'{base}/{name}', 'wb') as f:
            pickle.dump({'data': data, 'labels': [3, 9]}, f)
    with open(f'{base}/batches.meta', 'wb') as f:
        pickle.dump({'label_names': ['airplane', 'automobile', 'bird', 'cat',
                                     'deer', 'dog', 'frog', 'horse', 'ship',
                                     'truck']}, f)
    return 2, [3, 9]


def flowers102(root):
    from scipy.io import savemat
    for i in (1, 2, 3):
        _jpg(f'{root}/jpg/image_{i:05d}.jpg')
    savemat(f'{root}/imagelabels.mat',
            {'labels': np.array([[1, 102, 5]], np.uint8)})
    savemat(f'{root}/setid.mat', {
        'trnid': np.array([[1]], np.uint16),
        'valid': np.array([[3]], np.uint16),
        'tstid': np.array([[2, 3]], np.uint16)})
    return 2, [101, 4]


LAYOUTS = dict(food101=food101, sun397=sun397, fgvc_aircraft=fgvc_aircraft,
               oxford_pets=oxford_pets, caltech101=caltech101,
               birdsnap=birdsnap, voc2007=voc2007, cifar10=cifar10,
               flowers102=flowers102)


@pytest.mark.parametrize('name', sorted(LAYOUTS))
def test_reads_the_official_layout(tmp_path, name):
    spec = BENCHMARKS[name]
    data_root = str(tmp_path)
    assert not spec.is_present(data_root)
    size, labels = LAYOUTS[name](spec.root(data_root))
    assert spec.is_present(data_root)
    cfg = spec.dataset_cfg(data_root, 'test',
                           image_pipeline(16, spec.multilabel))
    if name == 'cifar10':
        cfg['verify_md5'] = False  # the fake pickles have other checksums
    dataset = DATASETS.build(cfg)
    assert len(dataset) == size
    item = dataset[0]
    assert tuple(item['inputs'].shape) == (3, 16, 16)
    if spec.multilabel:
        labels = [sorted(dataset[i]['data_samples'].gt_label.tolist())
                  for i in range(size)]
        # alphabetical VOC label order: cat 7, dog 11, person 14; the
        # difficult person is kept apart (ignored by the 11-point mAP)
        assert labels == [[11], [7]]
        assert dataset[0]['data_samples'].gt_label_difficult == [14]
    else:
        got = [int(dataset[i]['data_samples'].gt_label) for i in range(size)]
        assert got == labels
    if 'classes' in dataset.metainfo:  # Flowers102 has no class names
        assert len(dataset.metainfo['classes']) == len(spec.classnames)


def test_birdsnap_skips_missing_images_and_splits(tmp_path):
    birdsnap(str(tmp_path))
    test = Birdsnap(str(tmp_path), 'test')
    train = Birdsnap(str(tmp_path), 'train')
    assert test.num_missing == 1 and len(test) == 2
    assert [d['gt_label'] for d in train.load_data_list()] == [1]
    assert test.metainfo['classes'][499] == 'Bird 500'
