"""Semantic segmentation data from the synthetic world (no OpenMMLab import).

Label maps hold *global* ids: ``0`` is ``background`` (a class with a text,
in every vocabulary) and ``1 + i`` the class ``i`` of ``classes('all')``
(``1..26`` seen, ``27..36`` held out). A vocabulary is background + the
classes of a world split (:func:`semantic_class_texts`); mmseg's label map
turns the global ids into its ids and other classes into ``ignore``.
Training images show seen classes only, evaluation images all 36.
:func:`export_semantic` writes an mmseg ``BaseSegDataset`` layout; from the
command line: ``python -m icar_mm.datasets.synthetic_world semantic
OUT_DIR``. See ``docs/synthetic_world.md``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from icar_mm.registry import CLASS_TEXT_SOURCES
from .classes import class_records
from .streams import random_stream
from .world import SyntheticWorld, WorldCfg, build_world

#: Class text of the background (label 0).
BACKGROUND: Dict = dict(
    name='background',
    description='the plain grey surface behind the coloured shapes, with '
    'faint grey lines and blobs',
    aliases=[])

#: World split of the objects in each image split.
IMAGE_SPLITS: Dict[str, str] = {'train': 'seen', 'val': 'all'}


def semantic_class_names(split: str = 'all') -> List[str]:
    """``['background'] + names of the split's classes`` (label order)."""
    return [c['name'] for c in semantic_class_texts(split)]


@CLASS_TEXT_SOURCES.register_module(name='synthetic_world_semantic')
def semantic_class_texts(split: str = 'all', **kwargs) -> List[Dict]:
    """Class texts of a segmentation vocabulary: background + a world split.

    Args:
        split (str): ``'seen'`` (base), ``'heldout'`` (novel) or ``'all'``.
        **kwargs: ``SyntheticWorld`` kwargs (the classes do not depend on
            them; accepted so a config can share one dict).

    Returns:
        list[dict]: ``dict(name, description, aliases)`` per class.
    """
    world = SyntheticWorld(**kwargs)
    return [dict(BACKGROUND, aliases=[])] + world.classes(split)


def global_ids(split: str) -> List[int]:
    """Global label ids of a vocabulary's classes, in its label order."""
    num_seen = len(class_records('seen'))
    num = len(class_records(split))
    start = num_seen if split == 'heldout' else 0
    return [0] + [1 + start + i for i in range(num)]


def render_semantic(world: SyntheticWorld, scene: dict) -> Tuple[np.ndarray,
                                                                  np.ndarray]:
    """Image and semantic label map (global ids) of a scene.

    Args:
        world (SyntheticWorld): The world that sampled the scene.
        scene (dict): A scene from ``world.sample_scene``.

    Returns:
        tuple: ``(img HxWx3 uint8 BGR, label HxW uint8)``.
    """
    out = world.render(scene)
    label = np.zeros(out['img'].shape[:2], np.uint8)
    for mask, cls in zip(out['masks'], out['labels']):
        label[mask] = 1 + int(cls)
    return out['img'], label


def semantic_scenes(world: SyntheticWorld,
                    split: str,
                    num_images: int,
                    max_objects: int = 3,
                    seed: int = 0) -> List[dict]:
    """Deterministic scenes of an image split.

    Args:
        world (SyntheticWorld): The world.
        split (str): ``'train'`` (seen classes only) or ``'val'`` (all).
        num_images (int): Number of scenes; a larger number keeps the first.
        max_objects (int): Objects per image are ``1..max_objects``.
            Defaults to 3.
        seed (int): Seed of the set. Defaults to 0.

    Returns:
        list[dict]: Scenes; the main object of scene ``k`` is of class
        ``k mod C`` of the split's world classes.
    """
    if split not in IMAGE_SPLITS:
        raise ValueError(f'unknown image split {split!r}; choose from '
                         f'{list(IMAGE_SPLITS)}')
    world_split = IMAGE_SPLITS[split]
    num_classes = len(world.classes(world_split))
    scenes = []
    for k in range(num_images):
        rng = random_stream(world.seed, seed, f'semantic-{split}', k)
        num_objects = int(rng.integers(1, max_objects + 1))
        scenes.append(
            world.sample_scene(rng, k % num_classes, world_split,
                               num_objects))
    return scenes


def export_semantic(out_dir: str,
                    splits: Dict[str, int],
                    world: WorldCfg = None,
                    max_objects: int = 3,
                    seed: int = 0) -> Dict[str, str]:
    """Write images and label maps in an mmseg ``BaseSegDataset`` layout.

    Args:
        out_dir (str): Output directory (created).
        splits (dict[str, int]): Number of images per image split, e.g.
            ``dict(train=400, val=144)``.
        world (dict | SyntheticWorld, optional): ``SyntheticWorld`` kwargs
            (e.g. ``image_size``) or the world.
        max_objects (int): Objects per image are ``1..max_objects``.
        seed (int): Seed of the sets.

    Returns:
        dict[str, str]: ``img_{split}`` / ``ann_{split}`` directories and
        ``classes_{seen,heldout,all}`` files written.
    """
    world_obj = build_world(world)
    paths: Dict[str, str] = {}
    meta = osp.join(out_dir, 'meta')
    os.makedirs(meta, exist_ok=True)
    for vocab in ('seen', 'heldout', 'all'):
        p = osp.join(meta, f'classes_{vocab}.json')
        with open(p, 'w', encoding='utf-8') as f:
            json.dump(semantic_class_texts(vocab), f, indent=1)
        paths[f'classes_{vocab}'] = p
    for split, num in splits.items():
        img_dir = osp.join(out_dir, 'img', split)
        ann_dir = osp.join(out_dir, 'ann', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for k, scene in enumerate(
                semantic_scenes(world_obj, split, num, max_objects, seed)):
            img, label = render_semantic(world_obj, scene)
            for path, arr in ((osp.join(img_dir, f'{k:06d}.png'), img),
                              (osp.join(ann_dir, f'{k:06d}.png'), label)):
                if not cv2.imwrite(path, arr):
                    raise OSError(f'could not write {path}')
        paths[f'img_{split}'], paths[f'ann_{split}'] = img_dir, ann_dir
    return paths


def num_files(directory: str, suffix: str = '.png') -> int:
    """Number of files with ``suffix`` in a directory (0 if missing)."""
    if not osp.isdir(directory):
        return 0
    return sum(1 for f in os.listdir(directory) if f.endswith(suffix))


def chance_iou(ann_dir: str, split: str = 'all') -> Dict[str, float]:
    """Expected IoU of chance per class, on the label maps of a directory.

    Chance is a generous one: a predictor that knows the background and
    every object mask exactly but gives each object a class drawn uniformly
    from the ``K`` object classes of the vocabulary. For a class of area
    ``A_c`` among ``F`` object pixels (of the vocabulary's classes; others
    are ignored, as in evaluation) its expected IoU is about
    ``(A_c / K) / (A_c + (F - A_c) / K)`` (ratio of expected areas).

    Args:
        ann_dir (str): Directory of label PNGs (global ids).
        split (str): Vocabulary: ``'seen'``, ``'heldout'`` or ``'all'``.

    Returns:
        dict[str, float]: Class name -> expected chance IoU (0-1); 1.0 for
        the background, NaN for a class absent from the labels.
    """
    ids = global_ids(split)
    counts = np.zeros(256, np.int64)
    for name in sorted(os.listdir(ann_dir)):
        if name.endswith('.png'):
            label = cv2.imread(osp.join(ann_dir, name), cv2.IMREAD_UNCHANGED)
            counts += np.bincount(label.ravel(), minlength=256)
    areas = counts[ids[1:]].astype(np.float64)
    k, total = len(areas), areas.sum()
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = (areas / k) / (areas + (total - areas) / k)
    iou[areas == 0] = np.nan
    names = semantic_class_names(split)
    return dict(zip(names, [1.0] + iou.tolist()))


__all__ = [
    'chance_iou', 'BACKGROUND', 'IMAGE_SPLITS', 'semantic_class_names',
    'semantic_class_texts', 'global_ids', 'render_semantic',
    'semantic_scenes', 'export_semantic', 'num_files'
]

