"""Export of the synthetic world to loose files and webdataset shards
(export.py)."""
import csv
import json
import os.path as osp
import tarfile

import cv2

from icar_mm.datasets.synthetic_world.export import \
    export_synthetic_world_webdataset
from icar_mm.datasets.synthetic_world.world import SyntheticWorld


def test_file_export_layout_and_shards_hold_the_same_pairs(tmp_path):
    world = SyntheticWorld(seed=0, image_size=32)
    root = str(tmp_path)
    paths = world.export(root, num_per_class=1, num_captions=6,
                         splits=('train', 'heldout'))
    assert {'ann_train', 'ann_heldout', 'captions_csv', 'captions_jsonl',
            'classes_all', 'class_names_seen'} <= set(paths)
    with open(paths['ann_train']) as f:
        lines = f.read().split('\n')[:-1]
    assert len(lines) == 26 and lines[3] == 'train/000003.jpg 3'
    img = cv2.imread(osp.join(root, 'train/000003.jpg'))
    assert img.shape == (32, 32, 3)
    with open(paths['classes_heldout']) as f:
        assert json.load(f) == world.heldout_classes
    with open(paths['captions_csv'], newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['filepath', 'title'] and len(rows) == 7
    captions = [c for _, c in world.caption_scenes(6)]
    assert [r[1] for r in rows[1:]] == captions

    info = export_synthetic_world_webdataset(dict(seed=0, image_size=32),
                                             root, num_captions=6,
                                             maxcount=4)
    assert info['num_samples'] == 6 and len(info['shards']) == 2
    with tarfile.open(info['shards'][0]) as t:
        members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    assert members['000001.txt'].decode() == captions[1]
    # the shard's JPEG is the loose file's JPEG
    with open(osp.join(root, 'captions/000001.jpg'), 'rb') as f:
        assert members['000001.jpg'] == f.read()
