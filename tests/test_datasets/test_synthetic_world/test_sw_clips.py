"""Clips of moving synthetic-world objects (clips.py), without mmaction2."""
import numpy as np

from icar_mm.datasets.synthetic_world.clips import (CLIP_SPLITS,
                                                    SyntheticWorldClips,
                                                    clip_class_texts)


def test_clip_classes_are_compositions_of_colour_and_motion():
    clips = SyntheticWorldClips(num_frames=4, image_size=32)
    base, novel = clips.class_attributes('base'), clips.class_attributes(
        'novel')
    assert len(base) == 26 and len(novel) == 10 and not set(base) & set(novel)
    for colour, motion in novel:
        assert sum(c == colour for c, _ in base) >= 4
        assert sum(m == motion for _, m in base) >= 4
    assert clips.classes('train') == clip_class_texts('base')
    assert clip_class_texts('all') == clip_class_texts(
        'base') + clip_class_texts('novel')
    assert set(CLIP_SPLITS) == {'train', 'val', 'novel'}


def test_clip_frames_move_the_object_and_are_deterministic():
    clips = SyntheticWorldClips(num_frames=4, image_size=32)
    motions = [m for _, m in clips.class_attributes('base')]
    index = motions.index('moving right')
    frames, label = clips.sample('train', index)
    assert frames.shape == (4, 32, 32, 3) and frames.dtype == np.uint8
    assert label == index
    again, _ = SyntheticWorldClips(num_frames=4, image_size=32).sample(
        'train', index)
    assert frames.tobytes() == again.tobytes()
    other, _ = clips.sample('val', index)
    assert frames.tobytes() != other.tobytes()
    # the frames differ: something moves
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 1
