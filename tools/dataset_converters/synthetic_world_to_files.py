#!/usr/bin/env python
"""Write the demo's synthetic world to disk in every supported layout.

    python tools/dataset_converters/synthetic_world_to_files.py \
        data/synthetic_world --num-captions 4000

writes ImageNet-style classification data (``train/``, ``meta/train.txt``,
class-text JSON files), the image-text pairs as loose JPEGs with
``captions.csv`` / ``captions.jsonl`` (:meth:`SyntheticWorld.export`) and
the same pairs as webdataset shards (``shards/{000000..}.tar`` +
``sizes.json``), so the demo's data can exercise the file and shard loaders
(e.g. ``train_dataloader.itc.dataset=dict(type='AutoImageTextDataset',
data_root='data/synthetic_world', ann_file='shards/{000000..000039}.tar',
...)``).
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out_dir')
    p.add_argument('--seed', type=int, default=0, help='world seed')
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--num-per-class', type=int, default=80)
    p.add_argument('--num-captions', type=int, default=4000)
    p.add_argument('--shard-size', type=int, default=100)
    p.add_argument('--splits', default='train,val,heldout')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import icar_mm  # noqa: F401
    from icar_mm.datasets import (SyntheticWorld,
                                  export_synthetic_world_webdataset)
    world = SyntheticWorld(seed=args.seed, image_size=args.image_size)
    paths = world.export(
        args.out_dir,
        num_per_class=args.num_per_class,
        num_captions=args.num_captions,
        seed=0,
        splits=tuple(s for s in args.splits.split(',') if s))
    info = export_synthetic_world_webdataset(
        world, args.out_dir, num_captions=args.num_captions, seed=0,
        maxcount=args.shard_size)
    for key, path in sorted(paths.items()):
        print(f'{key:18s} {path}')
    print(f'{"shards":18s} {info["pattern"]} ({info["num_samples"]} pairs)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
