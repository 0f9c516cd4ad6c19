"""Sample sets of the synthetic world (splits.py) and their determinism."""
import numpy as np
import pytest

from icar_mm.datasets.synthetic_world.world import SyntheticWorld


@pytest.fixture(scope='module')
def world():
    return SyntheticWorld(seed=0, image_size=64)


def test_dataset_split_errors(world):
    with pytest.raises(ValueError, match='dataset split'):
        world.split_samples('seen', 1)
    with pytest.raises(ValueError, match='split_samples'):
        world.classification_scenes('train', 1)


def test_determinism(world):
    a = world.classification_samples('seen', 2, seed=3)
    b = SyntheticWorld(seed=0).classification_samples('seen', 2, seed=3)
    assert len(a) == 2 * len(world.seen_classes)
    for (ia, la), (ib, lb) in zip(a, b):
        assert la == lb and ia.tobytes() == ib.tobytes()
    ca = world.caption_samples(20, seed=1)
    cb = SyntheticWorld(seed=0).caption_samples(20, seed=1)
    assert [c for _, c in ca] == [c for _, c in cb]
    assert all(x.tobytes() == y.tobytes() for (x, _), (y, _) in zip(ca, cb))
    # another world seed or sample seed gives other images
    c = SyntheticWorld(seed=1).classification_samples('seen', 2, seed=3)
    d = world.classification_samples('seen', 2, seed=4)
    for other in (c, d):
        assert not any(x.tobytes() == y.tobytes()
                       for (x, _), (y, _) in zip(a, other))
    # more samples per class keep the first ones (per-class streams)
    e = world.classification_samples('seen', 3, seed=3)
    n = len(world.seen_classes)
    assert all(x.tobytes() == y.tobytes()
               for (x, _), (y, _) in zip(a, e[:2 * n]))


def test_classification_samples(world):
    samples = world.classification_samples('heldout', 3, seed=0)
    labels = np.array([label for _, label in samples])
    n = len(world.heldout_classes)
    assert np.bincount(labels).tolist() == [3] * n
    img = samples[0][0]
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    # the label's class is what is drawn
    scenes = world.classification_scenes('heldout', 1, seed=0)
    for (scene, label), attr in zip(scenes, world.class_attributes('heldout')):
        obj = scene['objects'][0]
        assert (obj['colour'], obj['shape']) == attr
    # train / val / heldout_train are independent sets
    train = world.split_samples('train', 2, seed=0)
    val = world.split_samples('val', 2, seed=0)
    train_bytes = {x.tobytes() for x, _ in train}
    assert not any(x.tobytes() in train_bytes for x, _ in val)
    ho = world.split_samples('heldout_train', 2)
    assert all(la == lb for (_, la), (_, lb) in zip(ho, samples[:2 * n]))
    assert not any(x.tobytes() == y.tobytes()
                   for (x, _), (y, _) in zip(ho, samples))


def test_caption_sets_cover_heldout_combinations_unless_told(world):
    held = set(world.class_attributes('heldout'))
    combos = {(s['objects'][0]['colour'], s['objects'][0]['shape'])
              for s, _ in world.caption_scenes(300, seed=0)}
    assert combos & held
    strict = world.caption_scenes(200, seed=0, include_heldout=False)
    assert not {(s['objects'][0]['colour'], s['objects'][0]['shape'])
                for s, _ in strict} & held
    # a larger set keeps the first pairs
    first = world.caption_scenes(5, seed=0)
    assert [c for _, c in first] == [
        c for _, c in world.caption_scenes(300, seed=0)[:5]]
