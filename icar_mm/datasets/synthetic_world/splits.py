"""Sample sets of the synthetic world: dataset splits and scene samplers.

Classification sets are balanced over the classes of a world split, with
one random stream per class (more samples per class keep the first ones);
caption sets are random scenes with captions. The dataset splits
(:data:`DATASET_SPLITS`) are independent sets of the seen or held-out
classes. See ``docs/synthetic_world.md``.
"""
from typing import Dict, List, Tuple

import numpy as np

from .streams import random_stream

#: Dataset-level splits -> (world split, stream tag).
DATASET_SPLITS: Dict[str, Tuple[str, str]] = {
    'train': ('seen', 'train'),
    'val': ('seen', 'val'),
    'heldout': ('heldout', 'heldout'),
    'heldout_train': ('heldout', 'heldout_train'),
}


def _check_world_split(split: str) -> str:
    if split not in ('seen', 'heldout', 'all'):
        raise ValueError(f"split must be 'seen', 'heldout' or 'all', got "
                         f'{split!r} (dataset splits such as '
                         f"'train'/'val' go through split_samples)")
    return split


class SplitsMixin:
    """Deterministic sample sets; needs the world's ``seed``, ``classes``,
    ``sample_scene``, ``render`` and ``caption``."""

    def classification_scenes(self,
                              split: str = 'seen',
                              num_per_class: int = 10,
                              seed: int = 0,
                              stream: str = '') -> List[Tuple[dict, int]]:
        """Deterministic labelled scenes, balanced over the classes.

        Each class has its own random stream, so a larger ``num_per_class``
        keeps the first samples of each class. Samples are interleaved
        (class 0, 1, ..., C-1, class 0, ...).

        Args:
            split (str): ``'seen'``, ``'heldout'`` or ``'all'``.
            num_per_class (int): Samples per class.
            seed (int): Seed of this sample set. Defaults to 0.
            stream (str): Extra tag of the random streams (different tags
                give independent sets). Defaults to ''.

        Returns:
            list[tuple[dict, int]]: ``(scene, label)``, label in
            ``0..len(classes(split))-1``.
        """
        split = _check_world_split(split)
        n_cls = len(self.classes(split))
        per_class = []
        for c in range(n_cls):
            rng = random_stream(self.seed, seed, split, stream, c)
            per_class.append([
                self.sample_scene(rng, c, split)
                for _ in range(num_per_class)
            ])
        return [(per_class[c][i], c) for i in range(num_per_class)
                for c in range(n_cls)]

    def classification_samples(self,
                               split: str = 'seen',
                               num_per_class: int = 10,
                               seed: int = 0,
                               stream: str = '') -> List[Tuple[np.ndarray,
                                                               int]]:
        """Rendered :meth:`classification_scenes`: ``(img BGR, label)``."""
        return [(self.render(scene)['img'], label)
                for scene, label in self.classification_scenes(
                    split, num_per_class, seed, stream)]

    def split_samples(self,
                      split: str,
                      num_per_class: int = 10,
                      seed: int = 0) -> List[Tuple[np.ndarray, int]]:
        """Samples of a dataset split (see :data:`DATASET_SPLITS`).

        ``'train'`` and ``'val'`` are independent samples of the seen
        classes, ``'heldout'`` (evaluation) and ``'heldout_train'``
        (few-shot support) independent samples of the held-out classes.

        Args:
            split (str): A key of :data:`DATASET_SPLITS`.
            num_per_class (int): Samples per class.
            seed (int): Seed of the sample set. Defaults to 0.

        Returns:
            list[tuple[np.ndarray, int]]: ``(img BGR uint8, label)``.
        """
        if split not in DATASET_SPLITS:
            raise ValueError(f'unknown dataset split {split!r}; choose from '
                             f'{list(DATASET_SPLITS)}')
        world_split, stream = DATASET_SPLITS[split]
        return self.classification_samples(world_split, num_per_class, seed,
                                           stream)

    def caption_scenes(self,
                       num: int,
                       seed: int = 0,
                       include_heldout: bool = True
                       ) -> List[Tuple[dict, str]]:
        """Deterministic random scenes with captions.

        Args:
            num (int): Number of pairs.
            seed (int): Seed of the set. Defaults to 0.
            include_heldout (bool): Whether held-out (colour, shape)
                combinations may appear. Defaults to True (web data covers
                everything).

        Returns:
            list[tuple[dict, str]]: ``(scene, caption)``; a larger ``num``
            keeps the first pairs.
        """
        split = 'all' if include_heldout else 'seen'
        rng = random_stream(self.seed, seed, 'caption',
                            int(include_heldout))
        out = []
        for _ in range(num):
            scene = self.sample_scene(rng, None, split)
            out.append((scene, self.caption(scene, rng)))
        return out

    def caption_samples(self,
                        num: int,
                        seed: int = 0,
                        include_heldout: bool = True
                        ) -> List[Tuple[np.ndarray, str]]:
        """Rendered :meth:`caption_scenes`: ``(img BGR, caption)``."""
        return [(self.render(scene)['img'], cap)
                for scene, cap in self.caption_scenes(num, seed,
                                                      include_heldout)]
