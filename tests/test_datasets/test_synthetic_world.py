"""Tests of the synthetic world and its in-memory mmpretrain datasets."""
import numpy as np
import pytest

from icar_mm.datasets.synthetic_world import (COLOUR_RGB, COLOUR_SYNONYMS,
                                              COLOURS, SHAPE_SYNONYMS,
                                              SHAPES, SIZE_WORDS,
                                              TEXTURE_WORDS, SyntheticWorld,
                                              mentions)


@pytest.fixture(scope='module')
def world():
    return SyntheticWorld(seed=0, image_size=64)


# ---------------------------------------------------------------- classes
def test_class_split_is_fixed_compositional(world):
    seen = world.class_attributes('seen')
    held = world.class_attributes('heldout')
    assert 20 <= len(seen) <= 28 and 8 <= len(held) <= 10
    assert not set(seen) & set(held)
    assert len(set(seen)) == len(seen) and len(set(held)) == len(held)
    # every colour and shape occurs in seen classes, so every held-out
    # class is a new composition of seen attributes
    assert {c for c, _ in seen} == set(COLOURS)
    assert {s for _, s in seen} == set(SHAPES)
    for colour, shape in held:
        assert sum(c == colour for c, _ in seen) >= 3
        assert sum(s == shape for _, s in seen) >= 3
    # seed-independent
    other = SyntheticWorld(seed=123)
    assert other.classes('seen') == world.classes('seen')
    assert other.classes('heldout') == world.classes('heldout')
    assert world.classes('all') == world.classes('seen') + world.classes(
        'heldout')


def test_class_texts(world):
    all_words = [w for syn in (*COLOUR_SYNONYMS.values(),
                               *SHAPE_SYNONYMS.values()) for w in syn]
    names = [c['name'] for c in world.classes('all')]
    assert len(set(names)) == len(names)
    for split in ('seen', 'heldout'):
        texts = world.classes(split)
        nonce = world.is_nonce(split)
        assert 0.35 <= np.mean(nonce) <= 0.65, split
        for t, (colour, shape), is_nonce in zip(
                texts, world.class_attributes(split), nonce):
            assert set(t) == {'name', 'description', 'aliases'}
            assert t['description'].strip()
            # the description alone says what the class looks like
            assert mentions(t['description'], [colour])
            assert mentions(t['description'], [shape])
            if is_nonce:
                assert not mentions(t['name'], all_words)
                assert t['aliases'] == []
            else:
                assert mentions(t['name'], [colour])
                assert mentions(t['name'], [shape])
                assert t['aliases']
    # returned lists are copies
    world.seen_classes[0]['aliases'].append('x')
    assert 'x' not in world.seen_classes[0]['aliases']


def test_class_split_errors(world):
    with pytest.raises(ValueError, match='unknown split'):
        world.classes('test')
    with pytest.raises(ValueError, match='dataset split'):
        world.split_samples('seen', 1)


# ---------------------------------------------------------------- samples
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


def test_not_trivial(world):
    """Background clutter and noise: images of one class differ a lot."""
    samples = world.classification_samples('seen', 4, seed=0)
    imgs = np.stack([x for x, label in samples if label == 0]).astype(float)
    assert np.abs(imgs[0] - imgs[1]).mean() > 10
    assert imgs.std(axis=(1, 2)).min() > 5


# ---------------------------------------------------------------- captions
def test_captions(world):
    pairs = world.caption_scenes(300, seed=0)
    caps = [c for _, c in pairs]
    assert len(set(caps)) > 200
    n_tex = n_size = n_pos = 0
    combos = set()
    for scene, cap in pairs:
        obj = scene['objects'][0]
        combos.add((obj['colour'], obj['shape']))
        assert mentions(cap, COLOUR_SYNONYMS[obj['colour']]), cap
        assert mentions(cap, SHAPE_SYNONYMS[obj['shape']]), cap
        for other in COLOURS:
            if other != obj['colour']:
                assert not mentions(cap, COLOUR_SYNONYMS[other]), cap
        pre, post = TEXTURE_WORDS[obj['texture']]
        n_tex += mentions(cap, pre + post)
        n_size += mentions(cap, SIZE_WORDS[obj['size']])
        n_pos += mentions(cap, ['top', 'bottom', 'left', 'right', 'middle',
                                'centre', 'center'])
        # nonce names never appear in captions
        for t in world.classes('all'):
            if not mentions(t['name'], COLOURS):
                assert not mentions(cap, [t['name']])
    for n in (n_tex, n_size, n_pos):
        assert 0.25 * len(pairs) < n < 0.75 * len(pairs)
    # synonyms are used: the vocabulary is not the class-name vocabulary
    assert any(not mentions(c, COLOURS) for c in caps)
    # all combinations by default, none held out with include_heldout=False
    held = set(world.class_attributes('heldout'))
    assert combos & held
    strict = world.caption_scenes(200, seed=0, include_heldout=False)
    assert not {(s['objects'][0]['colour'], s['objects'][0]['shape'])
                for s, _ in strict} & held


# ---------------------------------------------------------------- datasets
def test_cls_dataset():
    from icar_mm.registry import DATASETS
    ds = DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split='heldout',
             num_per_class=2, world=dict(seed=0, image_size=32),
             pipeline=[dict(type='PackInputs')]))
    world = SyntheticWorld(seed=0, image_size=32)
    names = [t['name'] for t in world.heldout_classes]
    assert list(ds.metainfo['classes']) == names
    assert ds.metainfo['class_texts'] == world.heldout_classes
    assert len(ds) == 2 * len(names)
    ref = world.split_samples('heldout', 2, seed=0)
    info = ds.get_data_info(3)
    assert info['img'].tobytes() == ref[3][0].tobytes()
    assert info['gt_label'] == ref[3][1]
    assert info['img_shape'] == info['ori_shape'] == (32, 32)
    packed = ds[3]
    assert tuple(packed['inputs'].shape) == (3, 32, 32)
    assert packed['data_samples'].gt_label.item() == ref[3][1]
    assert ds.get_gt_labels().tolist() == [label for _, label in ref]

    train = DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split='train', num_per_class=1))
    val = DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split='val', num_per_class=1))
    assert len(train.metainfo['classes']) == 26
    assert train.get_data_info(0)['img'].shape == (64, 64, 3)
    assert (train.get_data_info(0)['img'] != val.get_data_info(0)['img']
            ).any()
    with pytest.raises(ValueError, match='unknown split'):
        DATASETS.build(dict(type='SyntheticWorldClsDataset', split='test'))
    with pytest.raises(ValueError, match='fixed'):
        DATASETS.build(
            dict(type='SyntheticWorldClsDataset', classes=['a', 'b']))


def test_caption_dataset_and_class_text_source():
    from icar_mm.registry import CLASS_TEXT_SOURCES, DATASETS
    ds = DATASETS.build(
        dict(type='SyntheticWorldCaptionDataset', num_samples=5, seed=2,
             pipeline=[dict(type='PackInputs', algorithm_keys=['text'])]))
    ref = SyntheticWorld().caption_samples(5, seed=2)
    assert len(ds) == 5
    out = ds[4]
    assert out['data_samples'].text == ref[4][1]
    assert tuple(out['inputs'].shape) == (3, 64, 64)
    assert ds.get_data_info(4)['img'].tobytes() == ref[4][0].tobytes()

    source = CLASS_TEXT_SOURCES.get('synthetic_world')
    world = SyntheticWorld()
    assert source() == world.seen_classes
    assert source(split='heldout') == world.heldout_classes
    assert source(split='all', world=dict(seed=3)) == world.classes('all')
