"""Synthetic-world scenes as a COCO instance dataset (instances.py)."""
import json
import os.path as osp

import numpy as np

from icar_mm.datasets.synthetic_world.instances import export_coco_instances
from icar_mm.datasets.synthetic_world.world import SyntheticWorld


def test_coco_export_has_lvis_style_categories(tmp_path):
    coco_dir = str(tmp_path)
    export_coco_instances(coco_dir, dict(train=('base', 4), val=('all', 4)),
                          world=SyntheticWorld(image_size=64))
    with open(osp.join(coco_dir, 'annotations/val.json')) as f:
        ann = json.load(f)
    cats = ann['categories']
    assert len(cats) == 36
    assert sum(c['split'] == 'novel' for c in cats) == 10
    assert all(c['def'] for c in cats)
    with open(osp.join(coco_dir, 'annotations/train.json')) as f:
        train = json.load(f)
    novel = {c['id'] for c in cats if c['split'] == 'novel'}
    assert train['annotations'] and not any(
        a['category_id'] in novel for a in train['annotations'])
    # box = tight box of the RLE mask
    from pycocotools import mask as mask_utils
    a = ann['annotations'][0]
    m = mask_utils.decode(a['segmentation'])
    ys, xs = np.nonzero(m)
    assert a['bbox'] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(),
                         ys.max() + 1 - ys.min()]
    assert a['area'] == int(m.sum())
