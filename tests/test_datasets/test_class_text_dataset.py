"""Any mmpretrain classification dataset as an iCAR image-label stream.

``ClassTextDataset`` wraps a ``CustomDataset`` folder, a zero-shot benchmark
reader (Food-101's official layout, in miniature) or a folder of ImageNet
synsets, joins each class name to a class text by name, and trains the
synthetic demo model as its ``cls`` stream, with the model's text
classifier given the same classes through the ``dataset_classes`` source.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.runner import Runner

import icar_mm  # noqa: F401
import wds_data_gen as gen
from icar_mm.class_texts import ClassTextBank, gloss_of_name
from icar_mm.datasets import ClassTextDataset
from icar_mm.datasets.benchmarks import BENCHMARKS
from icar_mm.registry import DATASETS
from tiny_models import small_demo_cfg

IMG = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
#: the folder's classes, as CustomDataset sorts them
FOLDERS = ['cat', 'dog', 'red_fox']
#: the class-text file: other order, other spellings, one class more
TSV = ('name\tdescription\taliases\n'
       'Red-Fox\ta small fox with reddish fur\tvulpes vulpes\n'
       'wolf\ta wild dog that hunts in packs\t\n'
       'Dog\ta domestic canine kept as a pet\tpuppy\n'
       'CAT\ta small domestic feline\t\n')


def _jpg(path, img=IMG):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, img)


def _write(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


@pytest.fixture
def folder(tmp_path):
    """``root/<class>/<i>.jpg`` for FOLDERS, 2 images each, + the TSV."""
    root = str(tmp_path / 'images')
    for c in FOLDERS:
        for i in range(2):
            _jpg(f'{root}/{c}/{i}.jpg')
    tsv = str(tmp_path / 'class_texts.tsv')
    _write(tsv, TSV)
    return root, tsv


def _custom(root, **kwargs):
    return dict(type='CustomDataset', data_root=root, pipeline=PIPE,
                **kwargs)


def test_custom_folder_follows_the_dataset_order(folder):
    root, tsv = folder
    ds = DATASETS.build(
        dict(type='ClassTextDataset', dataset=_custom(root),
             class_texts=dict(file=tsv)))
    assert isinstance(ds, ClassTextDataset)
    plain = DATASETS.build(_custom(root))
    # the dataset's own class names and label order, not the file's
    assert list(ds.metainfo['classes']) == FOLDERS
    texts = ds.metainfo['class_texts']
    assert [t['name'] for t in texts] == ['CAT', 'Dog', 'Red-Fox']
    assert texts[2]['description'] == 'a small fox with reddish fur'
    assert texts[2]['aliases'] == ['red_fox', 'vulpes vulpes']
    assert texts[2]['where'].endswith('line 2')
    # samples and labels are the wrapped dataset's, unchanged
    assert len(ds) == len(plain) == 6
    for i in range(len(ds)):
        assert ds.get_data_info(i) == plain.get_data_info(i)
        assert int(ds[i]['data_samples'].gt_label) == int(
            plain[i]['data_samples'].gt_label)
    assert ds.get_gt_labels().tolist() == [0, 0, 1, 1, 2, 2]
    # the model's classes from the same config agree with the dataset's
    # (the check of the two-stream train loop)
    bank = ClassTextBank(
        source=dict(type='dataset_classes', dataset=_custom(root),
                    class_texts=dict(file=tsv)),
        templates='identity')
    assert bank.mismatches(list(ds.metainfo['classes'])) == []
    assert bank.class_texts == [
        'cat, a small domestic feline', 'dog, a domestic canine kept as a '
        'pet', 'red-fox, a small fox with reddish fur']
    # ... while the whole file, in its own order, does not
    whole = ClassTextBank(file=tsv, templates='identity')
    assert whole.mismatches(list(ds.metainfo['classes']))


def test_a_class_missing_from_the_file_is_named(folder, tmp_path):
    root, _ = folder
    tsv = str(tmp_path / 'partial.tsv')
    _write(tsv, 'cat\ta small domestic feline\nwolf\ta wild dog\n')
    with pytest.raises(ValueError) as err:
        ClassTextDataset(dataset=_custom(root), class_texts=dict(file=tsv))
    msg = str(err.value)
    assert "['dog', 'red_fox']" in msg and '2 of its 3 classes' in msg
    assert 'partial.tsv' in msg and 'alias' in msg  # and how to fix it
    # a class with an empty description is named as well
    _write(tsv, 'cat\ta small feline\ndog\t\nred fox\ta fox\n')
    with pytest.raises(ValueError, match=r"1 'dog'.*require_descriptions"):
        ClassTextDataset(dataset=_custom(root), class_texts=dict(file=tsv))
    ds = ClassTextDataset(dataset=_custom(root), class_texts=dict(file=tsv),
                          require_descriptions=False)
    assert ds.metainfo['class_texts'][1]['description'] == ''


def test_duplicate_classes_are_refused(folder, tmp_path):
    root, tsv = folder
    # a file that lists a class twice
    dup = str(tmp_path / 'dup.tsv')
    _write(dup, TSV + 'cat\tanother cat\n')
    with pytest.raises(ValueError, match='appear twice'):
        ClassTextDataset(dataset=_custom(root), class_texts=dict(file=dup))
    # a dataset whose folders are one class spelled twice
    _jpg(f'{root}/red-fox/0.jpg')
    with pytest.raises(ValueError, match="'red_fox' repeats class 2"):
        ClassTextDataset(dataset=_custom(root), class_texts=dict(file=tsv))
    # two dataset classes that match one class text (a name and its alias)
    with pytest.raises(ValueError, match="both match 'Dog'"):
        ClassTextDataset(dataset=_custom(root),
                         classes=['cat', 'dog', 'puppy', 'red fox'],
                         class_texts=dict(file=tsv))


def test_synset_folders_match_imagenet_22k(tmp_path):
    root = str(tmp_path)
    gen.write_imagenet_folder(root, per_class=1)
    ds = ClassTextDataset(
        dataset=_custom(osp.join(root, 'train')),
        class_texts=dict(source=dict(type='imagenet-22k')))
    assert list(ds.metainfo['classes']) == gen.SYNSETS
    tench = ds.metainfo['class_texts'][0]
    assert (tench['name'], tench['synset']) == ('tench', 'n01440764')
    assert tench['description'].startswith('freshwater dace-like game fish')


def food101(root):
    """Food-101's official layout (as in test_benchmark_datasets.py)."""
    for c in ('apple_pie', 'waffles'):
        for i in (1, 2):
            _jpg(f'{root}/images/{c}/{i}.jpg')
    _write(f'{root}/meta/train.txt', 'apple_pie/1\nwaffles/1\n')
    _write(f'{root}/meta/test.txt', 'apple_pie/2\nwaffles/2\n')


def test_benchmark_reader_with_wordnet_descriptions(tmp_path):
    spec = BENCHMARKS['food101']
    food101(spec.root(str(tmp_path)))
    cfg = spec.dataset_cfg(str(tmp_path), 'train', PIPE)
    names = DATASETS.build(cfg).metainfo['classes']
    undescribed = [n for n in names if gloss_of_name(n) is None]
    assert 0 < len(undescribed) < len(names)
    # iCAR's class texts need a description for every class: listed
    with pytest.raises(ValueError) as err:
        ClassTextDataset(dataset=cfg,
                         class_texts=dict(descriptions='wordnet'))
    msg = str(err.value)
    assert f'{len(undescribed)} of the 101 classes' in msg
    assert "0 'apple_pie'" in msg and 'class_texts=dict(file=PATH)' in msg
    ds = ClassTextDataset(dataset=cfg,
                          class_texts=dict(descriptions='wordnet'),
                          require_descriptions=False)
    texts = ds.metainfo['class_texts']
    assert list(ds.metainfo['classes']) == list(names)
    salad = texts[names.index('caesar_salad')]
    assert salad['name'] == 'caesar salad'  # underscores as spaces
    assert salad['aliases'] == ['caesar_salad']
    assert salad['description'] == gloss_of_name('caesar salad') == (
        'typically having fried croutons and dressing made with a raw egg')
    assert texts[names.index('apple_pie')]['description'] == ''
    assert len(ds) == 2
    assert [int(ds[i]['data_samples'].gt_label) for i in (0, 1)] == [
        0, 100]
    # names only; CLIP's names of the benchmark instead of mmpretrain's
    ds = ClassTextDataset(dataset=cfg, class_texts=dict(descriptions=None),
                          classes=dict(benchmark='food101'))
    assert ds.metainfo['classes'][0] == 'apple pie'
    assert ds.metainfo['class_texts'][0]['description'] == ''


def test_a_dataset_without_class_names_needs_classes(tmp_path):
    spec = BENCHMARKS['flowers102']
    from scipy.io import savemat
    root = spec.root(str(tmp_path))
    for i in (1, 2):
        _jpg(f'{root}/jpg/image_{i:05d}.jpg')
    savemat(f'{root}/imagelabels.mat',
            {'labels': np.array([[1, 102]], np.uint8)})
    savemat(f'{root}/setid.mat', {
        'trnid': np.array([[1, 2]], np.uint16),
        'valid': np.array([[1]], np.uint16),
        'tstid': np.array([[2]], np.uint16)})
    cfg = spec.dataset_cfg(str(tmp_path), 'train', PIPE)
    with pytest.raises(ValueError, match=r"no class names.*benchmark"):
        ClassTextDataset(dataset=cfg, class_texts=dict(descriptions=None))
    ds = ClassTextDataset(dataset=cfg, class_texts=dict(descriptions=None),
                          classes=dict(benchmark='flowers102'))
    assert len(ds.metainfo['classes']) == 102
    with pytest.raises(ValueError, match=r'label\(s\).*outside the 3 names'):
        ClassTextDataset(dataset=cfg, class_texts=dict(descriptions=None),
                         classes=['a', 'b', 'c'])


def test_wrapped_folder_trains_the_demo_model(folder, tmp_path):
    """Two iterations of the synthetic demo model with the wrapped folder as
    its image-label stream; the loop's class check passes because the text
    classifier reads its classes from the same dataset config."""
    root, tsv = folder
    cls_dataset = dict(type='ClassTextDataset', dataset=_custom(root),
                       class_texts=dict(file=tsv))
    cfg = small_demo_cfg(str(tmp_path / 'work'), 2, **{
        'train_dataloader.cls.num_workers': 0,
        'train_dataloader.cls.persistent_workers': False,
        'train_dataloader.cls.batch_size': 4,
        'train_dataloader.itc.num_workers': 0,
        'train_dataloader.itc.persistent_workers': False,
        'train_dataloader.itc.batch_size': 4,
    })
    cfg.train_dataloader.cls.dataset = cls_dataset
    cfg.model.cls_head.classifier.class_texts = dict(
        source=dict(cls_dataset, type='dataset_classes'),
        templates='synthetic-world')
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    classifier = runner.model.text_classifier
    assert classifier.class_texts.names == ['CAT', 'Dog', 'Red-Fox']
    assert runner.train_dataloader.loaders['cls'].dataset.metainfo[
        'classes'] == tuple(FOLDERS)
    # the check is live: the whole file (its own order) is refused
    classifier.class_texts = ClassTextBank(file=tsv)
    with pytest.raises(ValueError, match='differ from the text classifier'):
        runner.train_loop._check_classes()
