"""Labelled data joined to class texts: ImageNet-1K/22K and user classes."""
import json
import os

import pytest
import torch


import icar_mm  # noqa: E402,F401
import wds_data_gen as gen  # noqa: E402
from icar_mm.datasets import (ImageNetDescribed,  # noqa: E402
                              LabelledImageDataset)
from icar_mm.class_texts import ClassTextBank  # noqa: E402

from repo_paths import load_tool  # noqa: E402
PIPE = [dict(type='LoadImageChecked'), dict(type='PackInputs')]
TENCH_GLOSS = ('freshwater dace-like game fish of Europe and western Asia '
               'noted for ability to survive outside water')


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('in22k'))
    files = gen.write_imagenet_folder(root, per_class=3)
    return root, files


def _tool(name):
    return load_tool(f'tools/dataset_converters/{name}.py')


def test_imagenet22k_class_texts(folder):
    root, files = folder
    ds = ImageNetDescribed(subset='imagenet-22k', data_root=root,
                           split='train', pipeline=PIPE)
    texts = ds.metainfo['class_texts']
    assert len(ds.metainfo['classes']) == len(texts) == 21841
    assert all(str(t['description']).strip() for t in texts)
    tench = ds.metainfo['classes'].index('n01440764')
    assert texts[tench]['name'] == 'tench'
    assert texts[tench]['description'] == TENCH_GLOSS
    # the class folders are read with labels in the 21,841-synset order
    assert len(ds) == 15
    sample = ds[0]
    assert sample['data_samples'].gt_label.item() == tench
    assert sample['inputs'].shape == (3, 32, 32)
    # ... which is exactly the text classifier's class list
    bank = ClassTextBank(source=dict(type='imagenet-22k'),
                         templates='identity')
    assert bank.mismatches(ds.metainfo['classes']) == []
    assert bank.class_texts[tench] == f'tench, {TENCH_GLOSS}'.lower()


def test_ann_file_from_tool_gives_the_same_samples(folder, tmp_path):
    root, files = folder
    out = _tool('imagenet_folder_to_ann').convert(
        root, 'train', out_dir=str(tmp_path), subset='imagenet-22k')
    assert out['num_images'] == 15 and out['subset'] == 'imagenet-22k'
    assert out['num_classes'] == 21841 and not out['undescribed']
    by_folder = ImageNetDescribed(data_root=root, split='train',
                                  lazy_init=False)
    by_ann = ImageNetDescribed(data_root=root, data_prefix='train',
                               ann_file=out['ann_file'])
    assert [(d['img_path'], d['gt_label'])
            for d in by_ann.load_data_list()] == [
                (d['img_path'], d['gt_label'])
                for d in by_folder.load_data_list()]
    # ImageNet-1K: 1,000 classes, labels in its own synset order
    in1k = ImageNetDescribed(subset='imagenet-1k', data_root=root,
                             split='train')
    assert len(in1k.metainfo['classes']) == 1000
    assert in1k.get_gt_labels().tolist()[:3] == [0, 0, 0]


def test_mismatches_name_file_and_line(folder, tmp_path):
    root, files = folder
    ann = tmp_path / 'train.txt'
    from icar_mm.class_texts import imagenet_synsets
    tench = imagenet_synsets('imagenet-22k').index('n01440764')
    ann.write_text(f'n01440764/n01440764_0.JPEG {tench}\n'
                   'n01443537/n01443537_0.JPEG n01443537\n'
                   'x/y.JPEG not_a_class\n'
                   'x/z.JPEG also_not_one\n')
    with pytest.raises(ValueError) as e:
        ImageNetDescribed(data_root=root, data_prefix='train',
                          ann_file=str(ann))
    msg = str(e.value)
    assert f"{ann} line 3: 'not_a_class' is not a class" in msg
    assert f"{ann} line 4: 'also_not_one' is not a class" in msg
    assert 'line 1' not in msg and 'line 2' not in msg
    skipping = ImageNetDescribed(data_root=root, data_prefix='train',
                                 ann_file=str(ann), on_mismatch='skip')
    assert len(skipping) == 2
    assert [e[2] for e in skipping.load_skipped] == [
        f'{ann} line 3', f'{ann} line 4']
    # a label outside the class list: the list is not the labels' one, and
    # skipping would leave the other labels wrong
    ann.write_text(f'n01440764/n01440764_0.JPEG {tench}\n'
                   'n01440764/n01440764_1.JPEG 99999\n')
    # ... or whose image's class folder names another class (22K label 0 is
    # 'organism', not the tench of the folder)
    for on_mismatch in ('raise', 'skip'):
        bad = tmp_path / 'bad.txt'
        bad.write_text('n01440764/n01440764_0.JPEG 0\n')
        with pytest.raises(ValueError, match="label 0 is 'organism' but "
                           "the image's folder 'n01440764' is class"):
            ImageNetDescribed(data_root=root, data_prefix='train',
                              ann_file=str(bad), on_mismatch=on_mismatch)
    for on_mismatch in ('raise', 'skip'):
        with pytest.raises(ValueError, match='line 2 .*label 99999 is '
                           'outside the class list'):
            ImageNetDescribed(data_root=root, data_prefix='train',
                              ann_file=str(ann), on_mismatch=on_mismatch)
    # a class folder that is no class of the subset
    bad_root = tmp_path / 'bad'
    os.makedirs(bad_root / 'train' / 'n99999999')
    (bad_root / 'train' / 'n99999999' / 'a.jpg').write_bytes(b'x')
    with pytest.raises(ValueError, match=r'folder .*n99999999: '):
        ImageNetDescribed(data_root=str(bad_root), split='train')


def test_user_class_text_file(folder, tmp_path):
    root, files = folder
    # a generic dataset: the converter writes the class-text file (synset
    # folders get WordNet texts; another folder needs a description)
    data = tmp_path / 'data'
    gen.write_imagenet_folder(str(data), per_class=2,
                              synsets=['n01440764', 'golden_fish'])
    out = _tool('imagenet_folder_to_ann').convert(str(data), 'train')
    assert out['subset'] is None and out['undescribed'] == ['golden_fish']
    tsv = out['class_file']
    with open(tsv) as f:
        lines = f.read().splitlines()
    assert lines[0] == 'name\tdescription\taliases'
    assert lines[1] == 'golden fish\t\tgolden_fish'  # sorted folders
    assert lines[2].startswith('tench\tfreshwater dace-like')
    with pytest.raises(ValueError,
                       match=rf"{tsv} line 2: 'golden fish'"):
        LabelledImageDataset(class_texts=dict(file=tsv), data_root=str(data),
                             ann_file='meta/train.txt', data_prefix='train')
    lines[1] = 'golden fish\ta small golden pet fish\tgolden_fish'
    with open(tsv, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    ds = LabelledImageDataset(class_texts=dict(file=tsv),
                              data_root=str(data), ann_file='meta/train.txt',
                              data_prefix='train', pipeline=PIPE)
    assert ds.metainfo['classes'] == ['golden fish', 'tench']
    assert ds.get_gt_labels().tolist() == [0, 0, 1, 1]
    # folders are matched by name, alias or synset: same samples
    by_folder = LabelledImageDataset(class_texts=dict(file=tsv),
                                     data_root=str(data),
                                     data_prefix='train')
    assert by_folder.get_gt_labels().tolist() == [0, 0, 1, 1]
    bank = ClassTextBank(file=tsv, templates='identity')
    assert bank.mismatches(ds.metainfo['classes']) == []
    # JSON class texts work the same; a missing description names the entry
    js = tmp_path / 'classes.json'
    js.write_text(json.dumps([
        dict(name='tench', description='a fish', aliases=['n01440764']),
        dict(name='golden fish', description='', aliases=['golden_fish'])
    ]))
    with pytest.raises(ValueError, match=r"classes.json entry 1: 'golden"):
        LabelledImageDataset(class_texts=dict(file=str(js)),
                             data_root=str(data), data_prefix='train')
    ds = LabelledImageDataset(class_texts=dict(file=str(js)),
                              data_root=str(data), data_prefix='train',
                              require_descriptions=False, pipeline=PIPE)
    # folders: golden_fish (class 1) sorts first
    assert ds.get_gt_labels().tolist() == [1, 1, 0, 0]
    assert ds[3]['data_samples'].gt_label.item() == 0


def test_unreadable_images_are_skipped(folder, tmp_path):
    data = tmp_path / 'd'
    files = gen.write_imagenet_folder(str(data), per_class=2,
                                      synsets=gen.SYNSETS[:2])
    gen.corrupt_file(str(data / 'train' / files['n01440764'][1]), 'truncate')
    ds = ImageNetDescribed(data_root=str(data), split='train', pipeline=PIPE)
    out = ds[1]  # the bad one: replaced by the next image, event attached
    assert out['data_samples'].gt_label.item() == ds.metainfo[
        'classes'].index('n01443537')
    (ev, ) = out['__data_stats__']['skipped']
    assert ev[:2] == ('imagenet-22k', 'bad_image')
    assert ev[2].endswith('n01440764_1.JPEG')
    assert isinstance(out['inputs'], torch.Tensor)
    strict = ImageNetDescribed(data_root=str(data), split='train',
                               pipeline=PIPE, skip_bad_samples=False)
    with pytest.raises(Exception, match='bad_image'):
        strict[1]


def _classes_and_labels(tmp_path, names):
    """Images in class folders a, b, c, labelled by index in that order, and
    a class-text file listing ``names``."""
    data = tmp_path / 'data'
    gen.write_imagenet_folder(str(data), per_class=1, synsets=['a', 'b', 'c'])
    (data / 'meta').mkdir()
    (data / 'meta' / 'train.txt').write_text(
        'a/a_0.JPEG 0\nb/b_0.JPEG 1\nc/c_0.JPEG 2\n')
    tsv = tmp_path / 'classes.tsv'
    tsv.write_text(''.join(f'{n}\tthe letter {n}\n' for n in names))
    return dict(class_texts=dict(file=str(tsv)), data_root=str(data),
                ann_file='meta/train.txt', data_prefix='train')


@pytest.mark.parametrize('names, why', [
    (['z', 'a', 'b', 'c'], "label 0 is 'z' but the image's folder 'a' is "
     'class 1'),  # one class prepended: every label shifted
    (['a', 'c'], 'label 2 is outside the class list'),  # one removed
])
def test_class_texts_out_of_label_order_stop_the_build(tmp_path, names, why):
    kwargs = _classes_and_labels(tmp_path, names)
    for on_mismatch in ('raise', 'skip'):  # skipping would mislabel
        with pytest.raises(ValueError, match=why):
            LabelledImageDataset(on_mismatch=on_mismatch, **kwargs)
    ds = LabelledImageDataset(pipeline=PIPE,
                              **_classes_and_labels(tmp_path / 'ok',
                                                    ['a', 'b', 'c']))
    assert ds.get_gt_labels().tolist() == [0, 1, 2]


def test_a_folder_of_several_labels_is_not_a_class_folder(tmp_path):
    """``train/`` holding every class is a split folder, even when a class
    is called 'train' (ImageNet-22K has one)."""
    data = tmp_path / 'data'
    (data / 'train').mkdir(parents=True)
    (data / 'meta').mkdir()
    (data / 'meta' / 'train.txt').write_text(
        'train/0.jpg 0\ntrain/1.jpg 1\ntrain/2.jpg 2\n')
    tsv = tmp_path / 'classes.tsv'
    tsv.write_text('a\tthe letter a\ntrain\ta railway train\nc\tc\n')
    ds = LabelledImageDataset(class_texts=dict(file=str(tsv)),
                              data_root=str(data), ann_file='meta/train.txt',
                              data_prefix='', lazy_init=False)
    assert ds.get_gt_labels().tolist() == [0, 1, 2]
    # one label per folder: the folder is a class folder and is checked
    (data / 'meta' / 'train.txt').write_text('train/0.jpg 0\n')
    with pytest.raises(ValueError, match="folder 'train' is class 1"):
        LabelledImageDataset(class_texts=dict(file=str(tsv)),
                             data_root=str(data), ann_file='meta/train.txt',
                             data_prefix='')


def test_duplicate_classes_are_refused(tmp_path):
    kwargs = _classes_and_labels(tmp_path, ['a', 'b', 'c', 'B'])
    with pytest.raises(ValueError, match="appear twice: .*repeats 'B'"):
        LabelledImageDataset(**kwargs)
    with pytest.raises(ValueError, match='appear twice'):
        ClassTextBank(file=kwargs['class_texts']['file'])
    # the training classes of a text classifier, from any origin
    from icar_mm.models.text import TextClassifier
    with pytest.raises(ValueError, match='appear twice'):
        TextClassifier(dict(classes=['cat', 'dog', 'cat'],
                            use_descriptions=False))
    # a vocabulary may repeat a name (CLIP's ImageNet list has two
    # 'missile's): its classes only get equal scores
    assert len(ClassTextBank(classes=['missile', 'missile'],
                             use_descriptions=False)) == 2
    # one name, two synsets (ImageNet's two cranes): two classes
    clf = TextClassifier(dict(source=dict(type='imagenet-1k'),
                              use_descriptions=False))
    assert clf.class_texts.names.count('crane') == 2
