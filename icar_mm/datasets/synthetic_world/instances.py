"""Synthetic-world scenes with several objects, as a COCO instance dataset.

Detection and instance segmentation on the synthetic world: each image holds
a few objects (not too much overlap), each annotated with its box and its
visible mask (COCO RLE). Categories are the world's 36 (colour, shape)
classes in ``classes('all')`` order (ids ``1..36``), carrying, like LVIS,
their description in ``def``, aliases in ``synonyms`` and an open-vocabulary
``split``: ``'base'`` for the 26 seen classes, ``'novel'`` for the 10
held-out compositions.

A ``'base'`` image set holds seen classes only (training an open-vocabulary
detector: novel classes never appear, not even unlabelled); an ``'all'`` set
mixes seen and held-out classes (evaluation of base and novel AP). See
``docs/synthetic_world.md``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .streams import random_stream
from .world import SyntheticWorld, WorldCfg, build_world

#: split of the class table used by each image-set kind
_CLASS_SPLITS = {'base': 'seen', 'all': 'all', 'novel': 'heldout'}


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def instance_scene(world: SyntheticWorld,
                   rng: np.random.Generator,
                   classes: str = 'base',
                   num_objects: Tuple[int, int] = (1, 3),
                   max_overlap: float = 0.6,
                   size: str = None) -> dict:
    """A scene of a few objects whose classes come from ``classes``.

    Args:
        world (SyntheticWorld): The world.
        rng (np.random.Generator): Random generator.
        classes (str): ``'base'`` (seen), ``'novel'`` (held-out) or
            ``'all'``.
        num_objects (tuple[int, int]): Inclusive range of objects.
        max_overlap (float): Centres are at least ``max_overlap * (r1 + r2)``
            apart (fewer tries give up and keep fewer objects).
        size (str, optional): Size of every object (``'small'`` /
            ``'large'``); random if None.

    Returns:
        dict: A scene for :meth:`~.rendering.RenderingMixin.render`.
    """
    if classes not in _CLASS_SPLITS:
        raise ValueError(f'classes must be one of {list(_CLASS_SPLITS)}, '
                         f'got {classes!r}')
    split = _CLASS_SPLITS[classes]
    records = world.class_attributes(split)
    n = int(rng.integers(num_objects[0], num_objects[1] + 1))
    scene = world.sample_scene(rng, None, split, num_objects=1, size=size)
    objects = scene['objects']
    for _ in range(20 * n):
        if len(objects) >= n:
            break
        colour, shape = records[int(rng.integers(len(records)))]
        obj = world.sample_object(rng, colour, shape, size=size)
        if all(
                np.hypot(obj['center'][0] - o['center'][0], obj['center'][1] -
                         o['center'][1]) >= max_overlap *
            (obj['radius'] + o['radius']) for o in objects):
            objects.append(obj)
    return scene


def instance_annotations(world: SyntheticWorld, scene: dict,
                         min_area: int = 4) -> Tuple[np.ndarray, List[dict]]:
    """Render a scene; its image and per-object COCO annotations.

    Args:
        world (SyntheticWorld): The world.
        scene (dict): A scene.
        min_area (int): Objects with fewer visible pixels are dropped.

    Returns:
        tuple: BGR image and ``dict(bbox=[x, y, w, h], area, segmentation,
        category_id, iscrowd=0)`` per visible object.
    """
    out = world.render(scene)
    anns = []
    for mask, box, label in zip(out['masks'], out['bboxes'], out['labels']):
        area = int(mask.sum())
        if area < min_area:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        anns.append(
            dict(
                bbox=[x1, y1, x2 - x1, y2 - y1],
                area=area,
                segmentation=_rle(mask),
                category_id=int(label) + 1,
                iscrowd=0))
    return out['img'], anns


def coco_categories(world: SyntheticWorld) -> List[dict]:
    """The 36 categories: id, name, ``def``, ``synonyms`` and ``split``."""
    heldout = {c['name'] for c in world.classes('heldout')}
    return [
        dict(
            id=i + 1,
            name=c['name'],
            synonyms=list(c['aliases']),
            split='novel' if c['name'] in heldout else 'base',
            **{'def': c['description']})
        for i, c in enumerate(world.classes('all'))
    ]


def export_coco_instances(out_dir: str,
                          image_sets: Dict[str, Tuple[str, int]],
                          world: WorldCfg = None,
                          num_objects: Tuple[int, int] = (1, 3),
                          size: str = None,
                          seed: int = 0) -> Dict[str, str]:
    """Write image sets as COCO instance datasets.

    Layout (paths relative to ``out_dir``, i.e. ``data_root=out_dir``)::

        out_dir/{name}/000000.png ...
        out_dir/annotations/{name}.json

    Args:
        out_dir (str): Output directory (created).
        image_sets (dict): ``name -> (classes, num_images)`` with
            ``classes`` ``'base'``, ``'novel'`` or ``'all'``, e.g.
            ``dict(train=('base', 200), val=('all', 50))``.
        world (SyntheticWorld | dict, optional): The world or its kwargs;
            defaults to ``SyntheticWorld()`` (64 px).
        num_objects (tuple[int, int]): Objects per image (inclusive range).
        size (str, optional): Object size; random if None.
        seed (int): Seed of the image sets (each set has its own stream).

    Returns:
        dict[str, str]: ``name -> annotation file``.
    """
    world = build_world(world)
    categories = coco_categories(world)
    paths = {}
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    ann_id = 1
    for name, (classes, num_images) in image_sets.items():
        rng = random_stream(world.seed, seed, 'instances', name)
        os.makedirs(osp.join(out_dir, name), exist_ok=True)
        images, annotations = [], []
        for i in range(num_images):
            scene = instance_scene(world, rng, classes, num_objects,
                                   size=size)
            img, anns = instance_annotations(world, scene)
            rel = f'{name}/{i:06d}.png'
            if not cv2.imwrite(osp.join(out_dir, rel), img):
                raise OSError(f'could not write {osp.join(out_dir, rel)}')
            images.append(
                dict(id=i + 1, file_name=rel, height=world.image_size,
                     width=world.image_size))
            for ann in anns:
                annotations.append(dict(ann, id=ann_id, image_id=i + 1))
                ann_id += 1
        path = osp.join(out_dir, 'annotations', f'{name}.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(
                dict(images=images, annotations=annotations,
                     categories=categories), f)
        paths[name] = path
    return paths


def class_names(world: Optional[SyntheticWorld] = None,
                split: str = 'all') -> Sequence[str]:
    """Category names of a world split (``'seen'``, ``'heldout'``,
    ``'all'``), for dataset ``metainfo``."""
    return tuple(c['name'] for c in build_world(world).classes(split))
