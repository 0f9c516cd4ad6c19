"""Short clips of the synthetic world: coloured shapes that move.

The video variant of the world, for action recognition: a clip shows one
object (random shape, texture, background) performing a *motion*; a class
is a (colour, motion) pair ("red object moving left"), 26 base and 10
novel, held out like the image classes.
:meth:`SyntheticWorldClips.export_rawframes` writes mmaction2's rawframes
layout; the action adapter's ``SyntheticWorldClipDataset`` renders the
same clips in memory. See ``docs/synthetic_world.md``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from icar_mm.registry import CLASS_TEXT_SOURCES
from .classes import HELDOUT_PAIRS, class_texts
from .streams import random_stream
from .vocabulary import COLOURS, SHAPES, article
from .world import SyntheticWorld

#: motions and their dictionary-style glosses
MOTIONS: Tuple[str, ...] = ('moving left', 'moving right', 'moving up',
                            'moving down', 'growing', 'shrinking')
MOTION_GLOSSES: Dict[str, str] = {
    'moving left': 'sliding from the right towards the left edge of the '
    'frame',
    'moving right': 'sliding from the left towards the right edge of the '
    'frame',
    'moving up': 'rising from the bottom towards the top of the frame',
    'moving down': 'falling from the top towards the bottom of the frame',
    'growing': 'getting bigger and bigger in the middle of the frame',
    'shrinking': 'getting smaller and smaller in the middle of the frame',
}
#: dataset splits -> (class split, stream tag)
CLIP_SPLITS: Dict[str, Tuple[str, str]] = {
    'train': ('base', 'train'),
    'val': ('base', 'val'),
    'novel': ('novel', 'novel'),
}
_TRAVEL = 0.45  # distance travelled by a moving object, fraction of size
_RADIUS = (0.11, 0.15)  # radius of a moving object, fraction of size
_SCALE = (0.08, 0.26)  # radius range of growing / shrinking objects


def _build_clip_classes() -> Tuple[List[dict], List[dict]]:
    base, novel = [], []
    for ci, colour in enumerate(COLOURS):
        for mi, motion in enumerate(MOTIONS):
            rec = dict(
                name=f'{colour} object {motion}',
                description=f'{article(colour)} {colour} shape '
                f'{MOTION_GLOSSES[motion]}',
                aliases=[f'{colour} shape {motion}'],
                colour=colour,
                motion=motion)
            # the (colour, motion) pairs held out as the (colour, shape) ones
            (novel if (ci, mi) in HELDOUT_PAIRS else base).append(rec)
    return base, novel


_BASE, _NOVEL = _build_clip_classes()


def _clip_records(split: str) -> List[dict]:
    split = CLIP_SPLITS.get(split, (split, ))[0]
    if split == 'base':
        return _BASE
    if split == 'novel':
        return _NOVEL
    if split == 'all':
        return _BASE + _NOVEL
    raise ValueError(f"unknown split {split!r}; use 'base', 'novel', "
                     f"'all' or a dataset split {list(CLIP_SPLITS)}")


@CLASS_TEXT_SOURCES.register_module(name='synthetic_world_clips')
def clip_class_texts(split: str = 'base') -> List[dict]:
    """Class texts of a clip split (class-text source
    ``dict(type='synthetic_world_clips', split=...)``).

    Args:
        split (str): ``'base'``, ``'novel'``, ``'all'`` or a dataset split
            (``'train'``, ``'val'``, ``'novel'``).

    Returns:
        list[dict]: ``dict(name, description, aliases)`` per class.
    """
    return class_texts(_clip_records(split))


class SyntheticWorldClips:
    """Clips of one moving object of the synthetic world.

    Args:
        num_frames (int): Frames per clip. Defaults to 8.
        image_size (int): Frame height and width. Defaults to 32.
        seed (int): World seed. Defaults to 0.
        **world_kwargs: Other :class:`SyntheticWorld` arguments.
    """

    def __init__(self,
                 num_frames: int = 8,
                 image_size: int = 32,
                 seed: int = 0,
                 **world_kwargs) -> None:
        if num_frames < 2:
            raise ValueError(f'num_frames must be >= 2, got {num_frames}')
        self.num_frames = int(num_frames)
        self.world = SyntheticWorld(seed=seed, image_size=image_size,
                                    **world_kwargs)
        self.seed = int(seed)

    @property
    def image_size(self) -> int:
        return self.world.image_size

    #: ``dict(name, description, aliases)`` per class of a split
    classes = staticmethod(clip_class_texts)

    def class_attributes(self, split: str = 'base') -> List[Tuple[str, str]]:
        """``(colour, motion)`` of each class of a split."""
        return [(r['colour'], r['motion']) for r in _clip_records(split)]

    def _rng(self, split: str, index: int) -> np.random.Generator:
        tag = CLIP_SPLITS.get(split, (split, split))[1]
        return random_stream(self.seed, tag, index)

    def sample(self, split: str, index: int) -> Tuple[np.ndarray, int]:
        """Clip ``index`` of a split; classes cycle with the index.

        Args:
            split (str): ``'train'``, ``'val'`` (base classes) or
                ``'novel'``.
            index (int): Clip index; its class is ``index % num_classes``.

        Returns:
            tuple: ``(T, H, W, 3)`` uint8 BGR frames and the label (index in
            ``classes(split)``).
        """
        records = _clip_records(split)
        label = int(index) % len(records)
        rec = records[label]
        rng = self._rng(split, index)
        s = self.image_size
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        scene = self.world.sample_scene(
            rng, self.world.class_id(rec['colour'], shape), split='all')
        obj = scene['objects'][0]
        t = np.linspace(0., 1., self.num_frames)
        motion = rec['motion']
        if motion in ('growing', 'shrinking'):
            r0, r1 = (_SCALE if motion == 'growing' else _SCALE[::-1])
            radii = (r0 + (r1 - r0) * t) * s
            margin = _SCALE[1] * s * 1.1
            centre = rng.uniform(margin, s - margin, size=2)
            centres = np.repeat(centre[None], self.num_frames, 0)
        else:
            radius = rng.uniform(*_RADIUS) * s
            radii = np.full(self.num_frames, radius)
            margin = radius * 1.1
            travel = _TRAVEL * s
            axis = 0 if motion in ('moving left', 'moving right') else 1
            sign = -1. if motion in ('moving left', 'moving up') else 1.
            start = np.empty(2)
            start[1 - axis] = rng.uniform(margin, s - margin)
            lo = margin + (travel if sign < 0 else 0.)
            hi = s - margin - (0. if sign < 0 else travel)
            start[axis] = rng.uniform(lo, hi)
            centres = np.repeat(start[None], self.num_frames, 0)
            centres[:, axis] += sign * travel * t
        frames = np.empty((self.num_frames, s, s, 3), np.uint8)
        noise_seed = scene['background']['noise_seed']
        for i in range(self.num_frames):
            obj['center'] = [float(v) for v in centres[i]]
            obj['radius'] = float(radii[i])
            scene['background']['noise_seed'] = noise_seed + i
            frames[i] = self.world.render(scene)['img']
        return frames, label

    def export_rawframes(self, root: str, split: str,
                         num_clips: int) -> Dict[str, str]:
        """Write clips in mmaction2's rawframes layout.

        Args:
            root (str): Output folder.
            split (str): ``'train'``, ``'val'`` or ``'novel'``.
            num_clips (int): Number of clips.

        Returns:
            dict: ``ann_file``, ``data_prefix`` and ``class_file`` paths.
        """
        frames_root = osp.join(root, split)
        os.makedirs(frames_root, exist_ok=True)
        lines = []
        for index in range(num_clips):
            frames, label = self.sample(split, index)
            name = f'{index:06d}'
            os.makedirs(osp.join(frames_root, name), exist_ok=True)
            for i, frame in enumerate(frames, 1):
                cv2.imwrite(osp.join(frames_root, name, f'img_{i:05d}.png'),
                            frame)
            lines.append(f'{name} {len(frames)} {label}')
        ann_file = osp.join(root, f'{split}.txt')
        with open(ann_file, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        class_file = osp.join(root, f'classes_{split}.json')
        with open(class_file, 'w') as f:
            json.dump(self.classes(split), f, indent=1)
        return dict(ann_file=ann_file, data_prefix=frames_root,
                    class_file=class_file)

