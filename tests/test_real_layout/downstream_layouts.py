"""Helpers of the downstream real-layout tests (det, seg, action).

Two things: miniature datasets written in their official on-disk layouts
(a handful of images / short videos, the annotation files the configs name),
and the repository's tools run in-process the way a user runs them
(``tools/train.py CFG --work-dir W``, ``--resume``, ``tools/test.py CFG
CKPT``).
"""
import glob
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from repo_paths import REPO_ROOT, load_tool

#: a 1-layer random BERT reading bytes (tests/tiny_models.py: TINY_TEXT):
#: stands in for the configs' RoBERTa-base, which cannot be downloaded here
TINY_TEXT_ENCODER = dict(
    type='TextEncoder',
    config=dict(
        model_type='bert', hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, vocab_size=300,
        max_position_embeddings=128, hidden_dropout_prob=0.,
        attention_probs_dropout_prob=0.),
    tokenizer='byte',
    max_length=32)


def config_id(path: str) -> str:
    """A config file's stem: the test id."""
    return osp.splitext(osp.basename(path))[0]


def config_path(rel: str) -> str:
    return osp.join(REPO_ROOT, rel)


# ---------------------------------------------------------------- tools


def run_tool(monkeypatch, tool: str, *args) -> None:
    """``python tools/<tool>.py ARGS`` in this process (its ``main()``)."""
    module = load_tool(f'tools/{tool}.py')
    monkeypatch.setattr(sys, 'argv', [f'tools/{tool}.py', *map(str, args)])
    module.main()


def work_dir_logs(work_dir: str) -> str:
    """The text of every run log of a work dir (``<stamp>/<stamp>.log``)."""
    text = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log'))):
        with open(path, encoding='utf-8', errors='replace') as f:
            text.append(f.read())
    return '\n'.join(text)


def checkpoint_meta(path: str) -> dict:
    import torch
    return torch.load(path, map_location='cpu', weights_only=False)['meta']


def train_resume_test(monkeypatch, config: str, work_dir: str, unit: str,
                      first: int, last: int,
                      test_config: Optional[str] = None):
    """Train ``config`` to ``first`` epochs/iterations (``--cfg-options``:
    a run cut short), resume it with ``--resume`` to the config's own
    ``last``, then test the last checkpoint; return the test metrics and
    that checkpoint.

    Asserts what a user would check: the first checkpoint is written, the
    second run resumes from it (the log says so, the checkpoint is not
    rewritten) and writes the last one with the higher count.
    """
    assert unit in ('epoch', 'iter')
    field = 'max_epochs' if unit == 'epoch' else 'max_iters'
    run_tool(monkeypatch, 'train', config, '--work-dir', work_dir,
             '--cfg-options', f'train_cfg.{field}={first}')
    first_ckpt = osp.join(work_dir, f'{unit}_{first}.pth')
    assert osp.isfile(first_ckpt), os.listdir(work_dir)
    meta = checkpoint_meta(first_ckpt)
    assert meta[unit] == first
    stamp = os.stat(first_ckpt).st_mtime_ns

    run_tool(monkeypatch, 'train', config, '--work-dir', work_dir,
             '--resume')
    last_ckpt = osp.join(work_dir, f'{unit}_{last}.pth')
    assert osp.isfile(last_ckpt), os.listdir(work_dir)
    assert checkpoint_meta(last_ckpt)[unit] == last
    assert checkpoint_meta(last_ckpt)['iter'] > meta['iter']
    assert os.stat(first_ckpt).st_mtime_ns == stamp  # not trained again
    log = work_dir_logs(work_dir)
    assert f'resumed epoch: {meta["epoch"]}, iter: {meta["iter"]}' in log, \
        log[-3000:]

    metrics = run_test(monkeypatch, test_config or config, last_ckpt,
                       work_dir)
    return metrics, last_ckpt


def run_test(monkeypatch, config: str, checkpoint: str,
             work_dir: str) -> Dict[str, float]:
    """``tools/test.py CFG CKPT --work-dir W --out W/metrics.pkl
    --out-item metrics``; the metrics it wrote."""
    import mmengine
    out = osp.join(work_dir, f'test_metrics_{config_id(config)}.pkl')
    run_tool(monkeypatch, 'test', config, checkpoint, '--work-dir', work_dir,
             '--out', out, '--out-item', 'metrics')
    return mmengine.load(out)


def assert_finite_metrics(metrics: dict, keys: Iterable[str]) -> dict:
    """Every key exists and is a finite number; the values, rounded."""
    keys = list(keys)
    missing = [k for k in keys if k not in metrics]
    assert not missing, f'missing {missing} in {sorted(metrics)}'
    values = {}
    for k in keys:
        v = float(metrics[k])
        assert math.isfinite(v), (k, metrics[k])
        values[k] = round(v, 4)
    print('metrics:', values)
    return values


def retype_transforms(pipeline: List[dict], **types) -> List[dict]:
    """The pipeline with transform types replaced (``Old='New'``)."""
    out = []
    for t in pipeline:
        t = dict(t)
        if t['type'] in types:
            t['type'] = types[t['type']]
        out.append(t)
    return out


def update_transform(pipeline: List[dict], type_: str, **fields) -> None:
    """Set ``fields`` on every transform of ``type_`` (at least one)."""
    found = [t for t in pipeline if t['type'] == type_]
    assert found, f'no {type_} in {[t["type"] for t in pipeline]}'
    for t in found:
        t.update(fields)


# ---------------------------------------------------------------- images


def _rng(seed):
    return np.random.default_rng(seed)


def write_image(path: str, image: np.ndarray) -> None:
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, image), path


def random_scene(rng, height: int, width: int, num_objects: int):
    """A noisy background with ``num_objects`` filled ellipses: the image
    (BGR uint8) and one (mask, polygon) per object."""
    import cv2
    image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    objects = []
    for _ in range(num_objects):
        cx = int(rng.integers(width // 4, 3 * width // 4))
        cy = int(rng.integers(height // 4, 3 * height // 4))
        ax = int(rng.integers(width // 8, width // 4))
        ay = int(rng.integers(height // 8, height // 4))
        colour = tuple(int(c) for c in rng.integers(80, 255, 3))
        mask = np.zeros((height, width), np.uint8)
        cv2.ellipse(mask, (cx, cy), (ax, ay), 0, 0, 360, 1, -1)
        image[mask > 0] = colour
        poly = cv2.ellipse2Poly((cx, cy), (ax, ay), 0, 0, 360, 30)
        objects.append((mask, poly.reshape(-1).astype(float).tolist()))
    return image, objects


# ---------------------------------------------------------------- COCO


#: COCO 2017's 80 category ids, in the order of mmdet's CocoDataset classes
COCO_IDS = (list(range(1, 12)) + list(range(13, 26)) + [27, 28] +
            list(range(31, 45)) + list(range(46, 66)) + [67, 70] +
            list(range(72, 83)) + list(range(84, 91)))


def coco_instances(root: str, split: str, categories: List[dict],
                   object_cats: Sequence[Sequence[int]], size=(96, 128),
                   seed=0, first_id=1, image_dir: Optional[str] = None,
                   url_prefix='http://images.cocodataset.org/') -> dict:
    """Images ``<root>/<split>/<12-digit id>.jpg`` and a COCO instances dict:
    image ``i`` holds one object of each category id in ``object_cats[i]``
    (polygon masks, ``[x, y, w, h]`` boxes)."""
    rng = _rng(seed)
    images, annotations = [], []
    height, width = size
    image_dir = image_dir or split
    for i, cats in enumerate(object_cats):
        img_id = first_id + i
        file_name = f'{img_id:012d}.jpg'
        image, objects = random_scene(rng, height, width, len(cats))
        write_image(osp.join(root, image_dir, file_name), image)
        images.append(dict(
            id=img_id, file_name=file_name, height=height, width=width,
            license=1, date_captured='2013-11-14 17:02:52',
            coco_url=f'{url_prefix}{image_dir}/{file_name}',
            flickr_url=''))
        for cat_id, (mask, poly) in zip(cats, objects):
            ys, xs = np.nonzero(mask)
            x0, y0 = float(xs.min()), float(ys.min())
            w, h = float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)
            annotations.append(dict(
                id=len(annotations) + 1 + 1000 * first_id, image_id=img_id,
                category_id=cat_id, bbox=[x0, y0, w, h],
                area=float(mask.sum()), segmentation=[poly], iscrowd=0))
    return dict(
        info=dict(description='miniature', version='1.0', year=2017),
        licenses=[dict(id=1, name='test', url='')], images=images,
        annotations=annotations, categories=categories)


def dump_json(obj, path: str) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)
    return path


def coco_categories(names: Sequence[str]) -> List[dict]:
    """COCO ``categories`` entries (real ids) of some of the 80 names."""
    from mmdet.datasets import CocoDataset
    classes = CocoDataset.METAINFO['classes']
    return [dict(id=COCO_IDS[classes.index(n)], name=n, supercategory='x')
            for n in names]


def coco_id(name: str) -> int:
    from mmdet.datasets import CocoDataset
    return COCO_IDS[CocoDataset.METAINFO['classes'].index(name)]


# ---------------------------------------------------------------- LVIS


def lvis_categories(rare_every: int = 4) -> List[dict]:
    """All 1203 LVIS v1 categories (mmdet's names, ids 1..1203) with
    ``synonyms``, ``def``, ``frequency`` (one in ``rare_every`` rare, the
    others alternately common / frequent), ``synset`` and counts."""
    from mmdet.datasets import LVISV1Dataset
    cats = []
    for i, name in enumerate(LVISV1Dataset.METAINFO['classes']):
        freq = 'r' if i % rare_every == 0 else ('c' if i % 2 else 'f')
        cats.append({
            'id': i + 1, 'name': name, 'synonyms': [name],
            'def': f'a thing called {name.replace("_", " ")}',
            'synset': f'{name}.n.01', 'frequency': freq,
            'image_count': 1, 'instance_count': 1
        })
    return cats


def lvis_instances(root: str, split: str, categories: List[dict],
                   object_cats: Sequence[Sequence[int]], seed=0,
                   first_id=1, size=(96, 128)) -> dict:
    """An LVIS v1 annotation dict over images under
    ``<root>/<split>2017/`` (LVIS v1 images are COCO 2017's, addressed by
    ``coco_url``), with ``neg_category_ids`` and
    ``not_exhaustive_category_ids`` per image."""
    ann = coco_instances(root, f'{split}2017', categories, object_cats,
                         seed=seed, first_id=first_id, size=size)
    used = {c for cats in object_cats for c in cats}
    unused = [c['id'] for c in categories if c['id'] not in used]
    for img in ann['images']:
        del img['file_name']  # LVIS v1 has only coco_url
        img['neg_category_ids'] = unused[:3]
        img['not_exhaustive_category_ids'] = []
    for a in ann['annotations']:
        del a['iscrowd']
    return ann
