"""Tests of ImageTextDataset and of the synthetic world's file export."""
import csv
import json
import os.path as osp

import numpy as np
import pytest

from icar_mm.datasets import ImageTextDataset
from icar_mm.datasets.synthetic_world import SyntheticWorld

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs', algorithm_keys=['text'])
]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('world'))
    world = SyntheticWorld(seed=0, image_size=32)
    paths = world.export(out, num_per_class=2, num_captions=12, seed=0,
                         splits=('train', 'heldout'))
    return world, out, paths


def _assert_close_to_originals(ds, originals):
    assert len(ds) == len(originals)
    for i, (img, cap) in enumerate(originals):
        out = ds[i]
        assert out['data_samples'].text == cap
        # LoadImageFromFile gives BGR like the in-memory images
        loaded = out['inputs'].permute(1, 2, 0).numpy().astype(np.float32)
        assert loaded.shape == img.shape
        assert np.abs(loaded - img).mean() < 6  # JPEG tolerance


def test_export_layout(exported):
    world, out, paths = exported
    for key in ('ann_train', 'ann_heldout', 'classes_seen',
                'classes_heldout', 'captions_csv', 'captions_jsonl'):
        assert osp.isfile(paths[key]), key
    assert not osp.exists(osp.join(out, 'meta', 'val.txt'))
    with open(paths['classes_heldout']) as f:
        assert json.load(f) == world.heldout_classes
    with open(paths['captions_csv'], newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['filepath', 'title'] and len(rows) == 13


def test_csv_and_jsonl_round_trip(exported):
    world, out, paths = exported
    originals = world.caption_samples(12, seed=0)
    ds = ImageTextDataset(ann_file='captions.csv', data_root=out,
                          pipeline=PIPELINE)
    _assert_close_to_originals(ds, originals)
    assert ds.get_data_info(0)['img_path'] == osp.join(out,
                                                       'captions/000000.jpg')
    ds = ImageTextDataset(ann_file=paths['captions_jsonl'], data_root=out,
                          image_key='image', caption_key='caption',
                          pipeline=PIPELINE)
    _assert_close_to_originals(ds, originals)


def test_custom_dataset_reads_export(exported):
    from mmpretrain.datasets import CustomDataset
    world, out, paths = exported
    originals = world.split_samples('train', 2, seed=0)
    ds = CustomDataset(data_root=out, ann_file='meta/train.txt',
                       classes=paths['class_names_seen'],
                       pipeline=[dict(type='LoadImageFromFile'),
                                 dict(type='PackInputs')])
    assert list(ds.metainfo['classes']) == [
        t['name'] for t in world.seen_classes
    ]
    assert ds.get_gt_labels().tolist() == [label for _, label in originals]
    for i in (0, 7, len(ds) - 1):
        out_i = ds[i]
        loaded = out_i['inputs'].permute(1, 2, 0).numpy().astype(np.float32)
        assert np.abs(loaded - originals[i][0]).mean() < 6
        assert out_i['data_samples'].gt_label.item() == originals[i][1]


def _write(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return str(path)


def test_tsv_sep_and_prefix(tmp_path):
    ann = _write(tmp_path / 'pairs.tsv',
                 'url\tcaption\textra\nimgs/a.jpg\ta red, round "disc"\t1\n\n'
                 'imgs/b.jpg\tsecond\t2\n')
    ds = ImageTextDataset(ann, data_prefix=str(tmp_path), image_key='url',
                          caption_key='caption')
    assert len(ds) == 2
    assert ds.get_data_info(0) == dict(
        img_path=osp.join(str(tmp_path), 'imgs/a.jpg'),
        text='a red, round "disc"', sample_idx=0)
    # explicit separator for another extension; quoted separators
    ann = _write(tmp_path / 'pairs.txt',
                 'filepath;title\n/abs/x.jpg;"a; b"\n')
    ds = ImageTextDataset(ann, sep=';', data_prefix='ignored')
    assert ds.get_data_info(0)['img_path'] == '/abs/x.jpg'
    assert ds.get_data_info(0)['text'] == 'a; b'


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='ann_file'):
        ImageTextDataset('missing.csv', data_root=str(tmp_path))
    ann = _write(tmp_path / 'a.csv', 'path,caption\nx.jpg,hello\n')
    with pytest.raises(ValueError, match=r"\['path', 'caption'\]") as e:
        ImageTextDataset(ann)
    assert 'image_key' in str(e.value) and 'a.csv' in str(e.value)
    ann = _write(tmp_path / 'b.csv',
                 'filepath,title\nx.jpg,hello\ny.jpg,  \nz.jpg,ok\n')
    with pytest.raises(ValueError, match='b.csv.*line 3.*empty caption'):
        ImageTextDataset(ann)
    ann = _write(tmp_path / 'c.jsonl',
                 '{"image": "x.jpg", "caption": "hi"}\n'
                 '{"image": "y.jpg", "caption": ""}\n')
    # jsonl: the configured keys are used, no fallback to image/caption
    with pytest.raises(ValueError, match=r"line 1.*\['image', 'caption'\]"):
        ImageTextDataset(ann)
    with pytest.raises(ValueError, match='c.jsonl.*line 2.*empty caption'):
        ImageTextDataset(ann, image_key='image', caption_key='caption')
    ann = _write(tmp_path / 'd.jsonl', '{"image": "x.jpg", "caption"\n')
    with pytest.raises(ValueError, match='line 1 is not valid JSON'):
        ImageTextDataset(ann, image_key='image', caption_key='caption')
    ann = _write(tmp_path / 'e.parquet', 'x')
    with pytest.raises(ValueError, match='`sep`'):
        ImageTextDataset(ann)
    ann = _write(tmp_path / 'f.csv', 'filepath,title\n')
    with pytest.raises(ValueError, match='no image-text pairs'):
        ImageTextDataset(ann)


def test_non_utf8_caption_is_skipped_or_a_clear_error(tmp_path):
    ann = tmp_path / 'pairs.csv'
    ann.write_bytes(b'filepath,title\na.jpg,a cat\nb.jpg,caf\xe9 au lait\n'
                    b'c.jpg,a dog\n')
    with pytest.raises(ValueError, match=r"pairs.csv' line 3 is not valid "
                       'UTF-8'):
        ImageTextDataset(str(ann), pipeline=[])
    ds = ImageTextDataset(str(ann), pipeline=[], skip_bad_samples=True)
    assert len(ds) == 2
    assert ds.load_skipped == [('pairs', 'bad_encoding', f'{ann} line 3',
                                'not UTF-8')]
