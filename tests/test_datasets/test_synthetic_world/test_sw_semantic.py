"""Semantic segmentation data of the synthetic world (semantic.py) and its
command line (``python -m icar_mm.datasets.synthetic_world semantic``)."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np

from icar_mm.datasets.synthetic_world.semantic import (chance_iou,
                                                       global_ids,
                                                       render_semantic,
                                                       semantic_class_texts,
                                                       semantic_scenes)
from icar_mm.datasets.synthetic_world.world import SyntheticWorld

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def test_label_maps_hold_global_ids_of_the_visible_masks():
    world = SyntheticWorld(image_size=32)
    scenes = semantic_scenes(world, 'val', 36, seed=0)
    assert [s['objects'][0]['class_id'] for s in scenes] == list(range(36))
    img, label = render_semantic(world, scenes[30])
    out = world.render(scenes[30])
    expected = np.zeros((32, 32), np.uint8)
    for mask, cls in zip(out['masks'], out['labels']):
        expected[mask] = cls + 1
    np.testing.assert_array_equal(label, expected)
    assert img.tobytes() == out['img'].tobytes()
    assert global_ids('heldout') == [0] + list(range(27, 37))
    assert [c['name'] for c in semantic_class_texts('seen')][0] == \
        'background'


def test_command_line_writes_the_mmseg_layout(tmp_path):
    out = str(tmp_path / 'seg')
    proc = subprocess.run(
        [sys.executable, '-m', 'icar_mm.datasets.synthetic_world',
         'semantic', out, '--train', '2', '--val', '36', '--image-size',
         '32'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'ann_val:' in proc.stdout
    label = cv2.imread(osp.join(out, 'ann/val/000030.png'),
                       cv2.IMREAD_UNCHANGED)
    world = SyntheticWorld(image_size=32)
    _, expected = render_semantic(world, semantic_scenes(world, 'val',
                                                         36)[30])
    np.testing.assert_array_equal(label, expected)
    with open(osp.join(out, 'meta/classes_heldout.json')) as f:
        assert json.load(f) == semantic_class_texts('heldout')
    chance = chance_iou(osp.join(out, 'ann/val'), 'heldout')
    assert chance['background'] == 1.0
    assert all(0 < v < 1 for k, v in chance.items() if k != 'background')
