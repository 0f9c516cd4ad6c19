"""The fixed class table of the synthetic world (classes.py)."""
import numpy as np
import pytest

from icar_mm.datasets.synthetic_world.captions import mentions
from icar_mm.datasets.synthetic_world.vocabulary import (COLOUR_SYNONYMS,
                                                         COLOURS,
                                                         SHAPE_SYNONYMS,
                                                         SHAPES)
from icar_mm.datasets.synthetic_world.world import SyntheticWorld


@pytest.fixture(scope='module')
def world():
    return SyntheticWorld(seed=0, image_size=64)


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


def test_class_ids_index_all_classes(world):
    for i, (colour, shape) in enumerate(world.class_attributes('all')):
        assert world.class_id(colour, shape) == i
    # dataset splits map to their world split
    assert world.classes('train') == world.classes('val') == \
        world.seen_classes
    assert world.classes('heldout_train') == world.heldout_classes


def test_unknown_class_split(world):
    with pytest.raises(ValueError, match='unknown split'):
        world.classes('test')
