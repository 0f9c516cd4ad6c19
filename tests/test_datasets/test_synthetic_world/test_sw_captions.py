"""Web-like captions of the synthetic world (captions.py)."""
from icar_mm.datasets.synthetic_world.captions import mentions
from icar_mm.datasets.synthetic_world.vocabulary import (COLOUR_SYNONYMS,
                                                         COLOURS,
                                                         SHAPE_SYNONYMS,
                                                         SIZE_WORDS,
                                                         TEXTURE_WORDS)
from icar_mm.datasets.synthetic_world.world import SyntheticWorld


def test_captions():
    world = SyntheticWorld(seed=0, image_size=64)
    pairs = world.caption_scenes(300, seed=0)
    caps = [c for _, c in pairs]
    assert len(set(caps)) > 200
    n_tex = n_size = n_pos = 0
    for scene, cap in pairs:
        obj = scene['objects'][0]
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


def test_position_words_and_mentions():
    pos = SyntheticWorld.position_words
    assert pos(dict(center=[2., 2.]), 60) == ('top', 'left')
    assert pos(dict(center=[30., 59.9]), 60) == ('bottom', 'centre')
    assert pos(dict(center=[60., 30.]), 60) == ('middle', 'right')
    assert mentions('a crimson disc', ['disc'])
    assert not mentions('a grass-green box', ['green'])  # whole words only
    assert mentions('a plus sign at the top', ['plus sign'])
