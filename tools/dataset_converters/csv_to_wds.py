#!/usr/bin/env python
"""Pack an image-text CSV/TSV/JSONL of loose files into webdataset shards.

    python tools/dataset_converters/csv_to_wds.py data/laion/laion.csv \
        data/laion/shards --data-prefix images --maxcount 10000

Each row becomes ``<key>.<ext>`` (the image file's bytes, not re-encoded),
``<key>.txt`` (the caption) and ``<key>.json`` (the caption and the source
path); a ``sizes.json`` lists the samples per shard (OpenCLIP reads it).
Rows with an empty caption or image path, and images that are missing or
(with ``--check-images``) do not decode, are left out and listed. Reads the
file with the same parser (and keys) as ``ImageTextDataset``.
"""
import argparse
import os.path as osp
import sys
from typing import Iterator, List, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('ann_file', help='.csv / .tsv / .jsonl of image-text pairs')
    p.add_argument('out_dir', help='folder of the shards')
    p.add_argument('--data-root', default=None,
                   help='root of the image paths (default: the file\'s '
                   'folder)')
    p.add_argument('--data-prefix', default='',
                   help='prefix of the image paths under --data-root')
    p.add_argument('--image-key', default='filepath',
                   help='column / key of the image path (default filepath)')
    p.add_argument('--caption-key', default='title',
                   help='column / key of the caption (default title)')
    p.add_argument('--sep', default=None, help='column separator')
    p.add_argument('--maxcount', type=int, default=10000,
                   help='samples per shard (default 10000)')
    p.add_argument('--prefix', default='', help='shard file name prefix')
    p.add_argument('--check-images', action='store_true',
                   help='decode every image and leave out those that fail')
    return p.parse_args(argv)


def convert(ann_file: str, out_dir: str, data_root: str = None,
            data_prefix: str = '', image_key: str = 'filepath',
            caption_key: str = 'title', sep: str = None,
            maxcount: int = 10000, prefix: str = '',
            check_images: bool = False) -> dict:
    """Pack the pairs; returns the shard info plus ``skipped`` problems."""
    import icar_mm  # noqa: F401 (stack fixes)
    from icar_mm.datasets import ImageTextDataset
    from icar_mm.datasets.transforms import BadSampleError, decode_image
    from icar_mm.datasets.webdataset_utils import write_image_text_shards

    ann_file = osp.abspath(ann_file)
    if data_root is None:
        data_root = osp.dirname(ann_file)
    ds = ImageTextDataset(
        ann_file=ann_file,
        data_root=data_root,
        data_prefix=data_prefix,
        image_key=image_key,
        caption_key=caption_key,
        sep=sep,
        skip_bad_samples=True,
        serialize_data=False)
    skipped: List[Tuple[str, str, str]] = [
        (e[1], e[2], e[3]) for e in ds.load_skipped
    ]

    def samples() -> Iterator[tuple]:
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            path = info['img_path']
            try:
                with open(path, 'rb') as f:
                    data = f.read()
                if check_images:
                    decode_image(data, path)
            except OSError as e:
                skipped.append(('missing_file', path, str(e)))
                continue
            except BadSampleError as e:
                skipped.append((e.reason, path, e.detail))
                continue
            ext = osp.splitext(path)[1].lstrip('.').lower() or 'jpg'
            if ext == 'jpeg':
                ext = 'jpg'
            rel = osp.relpath(path, data_root)
            yield (f'{i:09d}', data, ext, info['text'], dict(filepath=rel))

    out = write_image_text_shards(
        samples(), out_dir, maxcount=maxcount, prefix=prefix)
    out['skipped'] = skipped
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    out = convert(args.ann_file, args.out_dir, args.data_root,
                  args.data_prefix, args.image_key, args.caption_key,
                  args.sep, args.maxcount, args.prefix, args.check_images)
    print(f'{out["num_samples"]} samples in {len(out["shards"])} shards: '
          f'{out["pattern"]}')
    if out['skipped']:
        print(f'{len(out["skipped"])} row(s) left out:')
        for reason, key, detail in out['skipped'][:50]:
            print(f'  {reason}: {key}' + (f' ({detail})' if detail else ''))
        if len(out['skipped']) > 50:
            print(f'  ... and {len(out["skipped"]) - 50} more')
    return 0


if __name__ == '__main__':
    sys.exit(main())
