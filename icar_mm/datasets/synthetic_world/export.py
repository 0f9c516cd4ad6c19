"""Export of the synthetic world to files: loose files and webdataset shards.

:meth:`ExportMixin.export` writes the classification splits and the
image-text pairs as loose JPEGs with annotation lists
(``meta/{split}.txt``, ``captions.csv`` / ``captions.jsonl``);
:func:`export_synthetic_world_webdataset` writes the same pairs as
webdataset shards, so the demo and the tests exercise the LAION-style
loading path::

    out_dir/shards/000000.tar ...    000000.jpg, 000000.txt, 000000.json
    out_dir/shards/sizes.json        samples per shard (OpenCLIP)

The key of pair ``i`` is ``f'{i:06d}'``, the same as the name of its loose
file ``captions/{i:06d}.jpg``, so both exports hold the same samples. See
``docs/synthetic_world.md``.
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, Iterator, Sequence

import cv2
import numpy as np

from ..webdataset_utils import write_image_text_shards


def jpeg_params(quality: int) -> list:
    """``cv2.imwrite`` / ``imencode`` parameters of the exports' JPEGs.

    Chroma subsampling is off where OpenCV allows it (>= 4.5.5): small
    coloured shapes survive JPEG.
    """
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if hasattr(cv2, 'IMWRITE_JPEG_SAMPLING_FACTOR'):
        params += [
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444
        ]
    return params


def _imwrite(path: str, img: np.ndarray, params: list) -> None:
    if not cv2.imwrite(path, img, params):
        raise OSError(f'could not write {path}')


class ExportMixin:
    """Export of the world to loose files; needs the world's
    ``jpeg_quality``, ``classes``, ``split_samples`` and
    ``caption_samples``."""

    def export(self,
               out_dir: str,
               num_per_class: int = 10,
               num_captions: int = 200,
               seed: int = 0,
               splits: Sequence[str] = ('train', 'val', 'heldout'),
               include_heldout: bool = True) -> Dict[str, str]:
        """Write the world to disk, for the file-based loading paths.

        Layout (all paths in the annotation files are relative to
        ``out_dir``, i.e. use ``data_root=out_dir``)::

            out_dir/{split}/000000.jpg ...     classification images
            out_dir/captions/000000.jpg ...    image-text images
            out_dir/meta/{split}.txt           "train/000000.jpg 3" per line
            out_dir/meta/classes_{seen,heldout,all}.json   class texts
            out_dir/meta/classes_{seen,heldout,all}.txt    names, one a line
            out_dir/captions.csv               "filepath,title" (OpenCLIP)
            out_dir/captions.jsonl             {"image": ..., "caption": ...}

        Args:
            out_dir (str): Output directory (created).
            num_per_class (int): Samples per class of each split.
            num_captions (int): Number of image-text pairs (0: none).
            seed (int): Seed of the sample sets (as in the datasets).
            splits (Sequence[str]): Dataset splits to write.
            include_heldout (bool): Passed to :meth:`caption_samples`.

        Returns:
            dict[str, str]: Paths written: ``ann_{split}``,
            ``classes_{seen,heldout,all}`` (json),
            ``class_names_{seen,heldout,all}`` (txt), ``captions_csv``,
            ``captions_jsonl``.
        """
        meta = osp.join(out_dir, 'meta')
        os.makedirs(meta, exist_ok=True)
        params = jpeg_params(self.jpeg_quality)
        paths: Dict[str, str] = {}
        for world_split in ('seen', 'heldout', 'all'):
            texts = self.classes(world_split)
            p = osp.join(meta, f'classes_{world_split}.json')
            with open(p, 'w', encoding='utf-8') as f:
                json.dump(texts, f, indent=1)
            paths[f'classes_{world_split}'] = p
            p = osp.join(meta, f'classes_{world_split}.txt')
            with open(p, 'w', encoding='utf-8') as f:
                f.write(''.join(t['name'] + '\n' for t in texts))
            paths[f'class_names_{world_split}'] = p
        for split in splits:
            os.makedirs(osp.join(out_dir, split), exist_ok=True)
            lines = []
            for i, (img, label) in enumerate(
                    self.split_samples(split, num_per_class, seed)):
                rel = f'{split}/{i:06d}.jpg'
                _imwrite(osp.join(out_dir, rel), img, params)
                lines.append(f'{rel} {label}\n')
            p = osp.join(meta, f'{split}.txt')
            with open(p, 'w', encoding='utf-8') as f:
                f.writelines(lines)
            paths[f'ann_{split}'] = p
        if num_captions:
            os.makedirs(osp.join(out_dir, 'captions'), exist_ok=True)
            rows = []
            for i, (img, cap) in enumerate(
                    self.caption_samples(num_captions, seed,
                                         include_heldout)):
                rel = f'captions/{i:06d}.jpg'
                _imwrite(osp.join(out_dir, rel), img, params)
                rows.append((rel, cap))
            p = osp.join(out_dir, 'captions.csv')
            with open(p, 'w', encoding='utf-8', newline='') as f:
                writer = csv.writer(f)
                writer.writerow(['filepath', 'title'])
                writer.writerows(rows)
            paths['captions_csv'] = p
            p = osp.join(out_dir, 'captions.jsonl')
            with open(p, 'w', encoding='utf-8') as f:
                for rel, cap in rows:
                    f.write(json.dumps(dict(image=rel, caption=cap)) + '\n')
            paths['captions_jsonl'] = p
        return paths


def export_synthetic_world_webdataset(world,
                                      out_dir: str,
                                      num_captions: int = 200,
                                      seed: int = 0,
                                      include_heldout: bool = True,
                                      maxcount: int = 100,
                                      subdir: str = 'shards'
                                      ) -> Dict[str, object]:
    """Write the world's image-text pairs as webdataset shards.

    Args:
        world (SyntheticWorld | dict | None): The world or its kwargs.
        out_dir (str): Output root; shards go to ``out_dir/subdir``.
        num_captions (int): Number of pairs. Defaults to 200.
        seed (int): Seed of the pairs (as :meth:`ExportMixin.export`).
        include_heldout (bool): Passed to
            :meth:`~.splits.SplitsMixin.caption_samples`.
        maxcount (int): Samples per shard. Defaults to 100.
        subdir (str): Folder of the shards. Defaults to ``'shards'``.

    Returns:
        dict: ``shards``, ``pattern`` (brace pattern), ``num_samples``,
        ``sizes`` (see :func:`write_image_text_shards`).
    """
    from .world import build_world  # world.py mixes ExportMixin in
    world = build_world(world)
    params = jpeg_params(world.jpeg_quality)

    def samples() -> Iterator[tuple]:
        pairs = world.caption_samples(num_captions, seed, include_heldout)
        for i, (img, caption) in enumerate(pairs):
            ok, buf = cv2.imencode('.jpg', img, params)
            if not ok:
                raise OSError(f'could not encode pair {i}')
            yield (f'{i:06d}', buf.tobytes(), 'jpg', caption,
                   dict(index=i, seed=seed))

    return write_image_text_shards(
        samples(), osp.join(out_dir, subdir), maxcount=maxcount)
