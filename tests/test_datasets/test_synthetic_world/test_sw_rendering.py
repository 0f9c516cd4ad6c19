"""Rendering of synthetic-world scenes (rendering.py, scenes.py)."""
import numpy as np
import pytest

from icar_mm.datasets.synthetic_world.vocabulary import COLOUR_RGB, COLOURS
from icar_mm.datasets.synthetic_world.world import SyntheticWorld


@pytest.fixture(scope='module')
def world():
    return SyntheticWorld(seed=0, image_size=64)


def test_render_masks_boxes_colours(world):
    rng = np.random.default_rng(0)
    palette = np.array([COLOUR_RGB[c][::-1] for c in COLOURS], np.float32)
    for k in range(30):
        scene = world.sample_scene(rng, k % 26, 'seen')
        out = world.render(scene)
        img = out['img'].astype(np.float32)
        obj = scene['objects'][0]
        mask = out['masks'][0]
        assert out['masks'].shape == (1, 64, 64) and mask.sum() > 20
        # mean colour inside the mask is closest to the object's palette
        # colour (BGR), up to the darker shade of stripes / dots
        inside = img[mask]
        bright = inside[inside.sum(1) >= np.percentile(inside.sum(1), 50)]
        nearest = np.linalg.norm(
            bright.mean(0)[None] /
            np.linalg.norm(bright.mean(0)) - palette /
            np.linalg.norm(palette, axis=1, keepdims=True), axis=1).argmin()
        assert COLOURS[nearest] == obj['colour']
        # and the object's colour is (almost) nowhere else
        colour = world.object_colour(obj)
        close = np.linalg.norm(img - colour, axis=-1) < 30
        assert close[mask].mean() > 0.3
        assert close[~mask].mean() < 0.005
        # tight box around the mask (x2, y2 exclusive)
        ys, xs = np.nonzero(mask)
        assert out['bboxes'][0].tolist() == [
            xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        ]
        assert out['labels'][0] == world.class_id(obj['colour'],
                                                  obj['shape'])


def test_render_occlusion(world):
    scene = world.sample_scene(5, 3, 'seen', num_objects=4)
    out = world.render(scene)
    masks = out['masks']
    assert masks.shape == (4, 64, 64) and out['bboxes'].shape == (4, 4)
    assert masks.sum(0).max() <= 1  # visible masks do not overlap
    # the main object is drawn on top: its visible mask is the full shape
    assert (masks[0] == world._object_mask(scene['objects'][0])).all()
    # rendering is a pure function of the scene
    assert world.render(scene)['img'].tobytes() == out['img'].tobytes()
    assert SyntheticWorld(seed=9).render(scene)['img'].tobytes() == \
        out['img'].tobytes()


def test_render_refuses_a_scene_of_another_size(world):
    scene = SyntheticWorld(image_size=32).sample_scene(0)
    with pytest.raises(ValueError, match='size 32'):
        world.render(scene)


def test_not_trivial(world):
    """Background clutter and noise: images of one class differ a lot."""
    samples = world.classification_samples('seen', 4, seed=0)
    imgs = np.stack([x for x, label in samples if label == 0]).astype(float)
    assert np.abs(imgs[0] - imgs[1]).mean() > 10
    assert imgs.std(axis=(1, 2)).min() > 5
