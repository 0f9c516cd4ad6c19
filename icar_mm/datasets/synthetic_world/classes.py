"""The fixed class table of the synthetic world: (colour, shape) pairs.

6 colours x 6 shapes = 36 classes: 26 *seen* (classification labels) and
10 *held out* (new compositions of seen attributes, for zero-shot). Every
class has a ``name`` (a nonce word for half of them), a dictionary-style
``description`` and ``aliases``. The table does not depend on any seed. See
``docs/synthetic_world.md``.
"""
from typing import Dict, List, Sequence, Tuple, Union

from .splits import DATASET_SPLITS
from .vocabulary import (COLOUR_SYNONYMS, COLOURS, NONCE_NAMES, SHAPE_GLOSSES,
                         SHAPE_SYNONYMS, SHAPES, article)

ClassText = Dict[str, Union[str, List[str]]]

#: Held-out (colour, shape) index pairs: the diagonal and four more. Each
#: colour and each shape is held out at most twice, so it occurs in at least
#: four seen classes. (The clips hold out the same (colour, motion) pairs.)
HELDOUT_PAIRS = frozenset([(i, i) for i in range(6)] +
                          [(i, (i + 3) % 6) for i in range(4)])


def _build_classes() -> Tuple[List[dict], List[dict]]:
    """The fixed class table: (seen, held-out) records with attributes."""
    seen, heldout = [], []
    nonce = iter(NONCE_NAMES)
    for ci, colour in enumerate(COLOURS):
        for si, shape in enumerate(SHAPES):
            desc = (f'{article(colour)} {colour} {shape}, '
                    f'{SHAPE_GLOSSES[shape]}')
            if (ci + si) % 2 == 0:
                name, aliases = next(nonce), []
            else:
                name = f'{colour} {shape}'
                aliases = [
                    f'{COLOUR_SYNONYMS[colour][1]} {shape}',
                    f'{colour} {SHAPE_SYNONYMS[shape][1]}'
                ]
            rec = dict(name=name, description=desc, aliases=aliases,
                       colour=colour, shape=shape,
                       nonce=(ci + si) % 2 == 0)
            (heldout if (ci, si) in HELDOUT_PAIRS else seen).append(rec)
    return seen, heldout


SEEN_CLASSES, HELDOUT_CLASSES = _build_classes()
#: class id = index in ``ALL_CLASSES`` = seen then held-out
ALL_CLASSES = SEEN_CLASSES + HELDOUT_CLASSES
_CLASS_IDS = {(c['colour'], c['shape']): i for i, c in enumerate(ALL_CLASSES)}


def class_records(split: str) -> List[dict]:
    """The class records (texts and attributes) of a split, in label order.

    Args:
        split (str): ``'seen'``, ``'heldout'`` or ``'all'``, or a dataset
            split of :data:`~.splits.DATASET_SPLITS` (its world split).

    Returns:
        list[dict]: The shared records (do not modify them).
    """
    if split in DATASET_SPLITS:
        split = DATASET_SPLITS[split][0]
    if split == 'seen':
        return SEEN_CLASSES
    if split == 'heldout':
        return HELDOUT_CLASSES
    if split == 'all':
        return ALL_CLASSES
    raise ValueError(f"unknown split {split!r}; use 'seen', 'heldout' or "
                     f"'all' (or a dataset split {list(DATASET_SPLITS)})")


def class_texts(records: Sequence[dict]) -> List[ClassText]:
    """``dict(name, description, aliases)`` of each record (fresh copies)."""
    return [
        dict(name=r['name'], description=r['description'],
             aliases=list(r['aliases'])) for r in records
    ]


class ClassesMixin:
    """The class vocabulary of a world (the same for every world)."""

    def classes(self, split: str = 'seen') -> List[ClassText]:
        """Class texts of a split.

        Args:
            split (str): ``'seen'``, ``'heldout'`` or ``'all'`` (seen then
                held-out); dataset splits (``'train'``, ``'val'``,
                ``'heldout'``, ``'heldout_train'``) map to their world split.

        Returns:
            list[dict]: ``dict(name=str, description=str, aliases=list[str])``
            per class, in label order (fresh copies).
        """
        return class_texts(class_records(split))

    @property
    def seen_classes(self) -> List[ClassText]:
        """Class texts of the seen (labelled) classes."""
        return self.classes('seen')

    @property
    def heldout_classes(self) -> List[ClassText]:
        """Class texts of the held-out (zero-shot) classes."""
        return self.classes('heldout')

    def class_attributes(self, split: str = 'seen') -> List[Tuple[str, str]]:
        """``(colour, shape)`` of each class of a split, in label order."""
        return [(r['colour'], r['shape']) for r in class_records(split)]

    def is_nonce(self, split: str = 'seen') -> List[bool]:
        """Whether each class of a split has an uninformative nonce name."""
        return [r['nonce'] for r in class_records(split)]

    def class_id(self, colour: str, shape: str) -> int:
        """Index of a (colour, shape) pair in ``classes('all')``."""
        return _CLASS_IDS[(colour, shape)]
