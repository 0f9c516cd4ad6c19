"""Test data generator: real JPEG files + captions in every on-disk format.

Used by the dataset tests and the pretraining-config test (import it with
``tests/test_datasets`` on ``sys.path``). Everything comes from the
synthetic world (rendered scenes, JPEG-encoded, with web-like captions):

* ``write_pairs``: ``images/<key>.jpg`` + ``pairs.csv`` (``filepath,title``)
  + ``pairs.jsonl`` (``image``/``caption``) + ``shards/*.tar`` (webdataset,
  ``key.jpg`` + ``key.txt`` + ``key.json``) -- the same samples;
* ``write_imagenet_folder``: an ImageNet-style ``train/<synset>/*.JPEG``
  folder whose class folders are real ImageNet-22K synsets;
* ``corrupt_*``: the bad data of the skip-and-count tests.
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from icar_mm.datasets.synthetic_world import SyntheticWorld
from icar_mm.datasets.webdataset_utils import write_image_text_shards

#: the first synsets of ImageNet-1K (all in ImageNet-22K too)
SYNSETS = ['n01440764', 'n01443537', 'n01484850', 'n01491361', 'n01494475']


def _jpeg(img: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def make_pairs(num: int, seed: int = 0, image_size: int = 32) -> List[dict]:
    """``dict(key, jpeg, caption)`` of ``num`` rendered image-text pairs."""
    world = SyntheticWorld(seed=seed, image_size=image_size)
    return [
        dict(key=f'{i:06d}', jpeg=_jpeg(img), caption=cap)
        for i, (img, cap) in enumerate(
            world.caption_samples(num, seed=seed))
    ]


def write_pairs(root: str,
                pairs: Sequence[dict],
                maxcount: int = 50,
                shards_dir: str = 'shards',
                formats: Sequence[str] = ('csv', 'jsonl', 'wds')
                ) -> Dict[str, object]:
    """Write ``pairs`` as loose files + CSV/JSONL and as shards."""
    out: Dict[str, object] = {}
    if 'csv' in formats or 'jsonl' in formats:
        os.makedirs(osp.join(root, 'images'), exist_ok=True)
        for p in pairs:
            with open(osp.join(root, 'images', p['key'] + '.jpg'), 'wb') as f:
                f.write(p['jpeg'])
    if 'csv' in formats:
        out['csv'] = osp.join(root, 'pairs.csv')
        with open(out['csv'], 'w', newline='', encoding='utf-8') as f:
            w = csv.writer(f)
            w.writerow(['filepath', 'title'])
            for p in pairs:
                w.writerow([f'images/{p["key"]}.jpg', p['caption']])
    if 'jsonl' in formats:
        out['jsonl'] = osp.join(root, 'pairs.jsonl')
        with open(out['jsonl'], 'w', encoding='utf-8') as f:
            for p in pairs:
                f.write(json.dumps(dict(image=f'images/{p["key"]}.jpg',
                                        caption=p['caption'])) + '\n')
    if 'wds' in formats:
        info = write_image_text_shards(
            ((p['key'], p['jpeg'], 'jpg', p['caption'], dict(i=k))
             for k, p in enumerate(pairs)),
            osp.join(root, shards_dir),
            maxcount=maxcount)
        out.update(pattern=info['pattern'], shards=info['shards'])
    return out


def write_imagenet_folder(root: str,
                          per_class: int = 4,
                          synsets: Sequence[str] = SYNSETS,
                          split: str = 'train',
                          image_size: int = 32) -> Dict[str, List[str]]:
    """``root/split/<synset>/<synset>_<i>.JPEG``; returns files per class."""
    world = SyntheticWorld(seed=1, image_size=image_size)
    samples = world.classification_samples('seen', per_class, seed=0)
    by_class: Dict[int, List[np.ndarray]] = {}
    for img, label in samples:
        by_class.setdefault(label, []).append(img)
    files: Dict[str, List[str]] = {}
    for c, synset in enumerate(synsets):
        folder = osp.join(root, split, synset)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            img = by_class[c % len(by_class)][i]
            name = f'{synset}_{i}.JPEG'
            with open(osp.join(folder, name), 'wb') as f:
                f.write(_jpeg(img))
            files.setdefault(synset, []).append(f'{synset}/{name}')
    return files


def corrupt_file(path: str, how: str = 'truncate') -> None:
    """Damage a file: ``'truncate'`` (cut in half) or ``'garbage'``."""
    with open(path, 'rb') as f:
        data = f.read()
    data = data[:len(data) // 2] if how == 'truncate' else b'not a jpeg' * 9
    with open(path, 'wb') as f:
        f.write(data)


def truncate_tar(path: str, keep: float = 0.6) -> None:
    """Cut a tar shard off inside a member, as an interrupted download."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep) // 512 * 512 + 100])


def bad_pairs(pairs: Sequence[dict],
              garbage: Sequence[int] = (),
              truncated: Sequence[int] = (),
              empty_caption: Sequence[int] = (),
              no_caption: Optional[Sequence[int]] = ()) -> List[dict]:
    """A copy of ``pairs`` with damaged images / captions at those indices."""
    out = []
    for i, p in enumerate(pairs):
        p = dict(p)
        if i in garbage:
            p['jpeg'] = b'not a jpeg' * 9
        if i in truncated:
            p['jpeg'] = p['jpeg'][:len(p['jpeg']) // 2]
        if i in empty_caption:
            p['caption'] = '  '
        out.append(p)
    return out
