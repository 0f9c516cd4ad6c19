"""Webdataset export of the synthetic world (the demo's image-text stream).

:meth:`SyntheticWorld.export` writes loose JPEGs + ``captions.csv`` /
``captions.jsonl``; this writes the same pairs as webdataset shards, so the
demo and the tests exercise the LAION-style loading path::

    out_dir/shards/000000.tar ...    000000.jpg, 000000.txt, 000000.json
    out_dir/shards/sizes.json        samples per shard (OpenCLIP)

The key of pair ``i`` is ``f'{i:06d}'``, the same as the name of its loose
file ``captions/{i:06d}.jpg``, so both exports hold the same samples.
"""
import os.path as osp
from typing import Dict, Iterator, Union

import cv2

from .synthetic_world import SyntheticWorld
from .webdataset_utils import write_image_text_shards


def _jpeg_params(quality: int) -> list:
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if hasattr(cv2, 'IMWRITE_JPEG_SAMPLING_FACTOR'):
        params += [
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444
        ]
    return params


def export_synthetic_world_webdataset(
        world: Union[SyntheticWorld, Dict, None],
        out_dir: str,
        num_captions: int = 200,
        seed: int = 0,
        include_heldout: bool = True,
        maxcount: int = 100,
        subdir: str = 'shards') -> Dict[str, object]:
    """Write the world's image-text pairs as webdataset shards.

    Args:
        world (SyntheticWorld | dict | None): The world or its kwargs.
        out_dir (str): Output root; shards go to ``out_dir/subdir``.
        num_captions (int): Number of pairs. Defaults to 200.
        seed (int): Seed of the pairs (as :meth:`SyntheticWorld.export`).
        include_heldout (bool): Passed to
            :meth:`SyntheticWorld.caption_samples`.
        maxcount (int): Samples per shard. Defaults to 100.
        subdir (str): Folder of the shards. Defaults to ``'shards'``.

    Returns:
        dict: ``shards``, ``pattern`` (brace pattern), ``num_samples``,
        ``sizes`` (see :func:`write_image_text_shards`).
    """
    if not isinstance(world, SyntheticWorld):
        world = SyntheticWorld(**(world or {}))
    params = _jpeg_params(world.jpeg_quality)

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
