"""Write synthetic-world data to files from the command line::

    python -m icar_mm.datasets.synthetic_world semantic OUT_DIR \\
        [--train 400] [--val 144] [--image-size 64] [--seed 0]

``semantic``: images + label maps for segmentation
(:func:`.semantic.export_semantic`). The classification / caption files and
shards are written by ``tools/dataset_converters/synthetic_world_to_files.py``.
"""
import argparse
from typing import Optional, Sequence

from .semantic import export_semantic


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog='python -m icar_mm.datasets.synthetic_world',
        description='Write synthetic-world data to files.')
    commands = parser.add_subparsers(dest='command', required=True)
    semantic = commands.add_parser(
        'semantic', help='semantic segmentation data (images + label PNGs)')
    semantic.add_argument('out_dir')
    semantic.add_argument('--train', type=int, default=400)
    semantic.add_argument('--val', type=int, default=144)
    semantic.add_argument('--image-size', type=int, default=64)
    semantic.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    for k, v in export_semantic(
            args.out_dir, dict(train=args.train, val=args.val),
            dict(image_size=args.image_size), seed=args.seed).items():
        print(f'{k}: {v}')


if __name__ == '__main__':
    main()
