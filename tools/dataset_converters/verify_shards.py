#!/usr/bin/env python
"""Verify a webdataset shard set: sample counts and broken samples.

    python tools/dataset_converters/verify_shards.py \
        'data/laion/shards/{000000..000099}.tar' --workers 4 --json out.json

Reads every shard with the training reader (``WebImageTextDataset``),
decodes every image and checks every caption, and reports: samples per
shard (and disagreements with ``sizes.json``), unreadable or cut-off
shards, and broken samples (undecodable/truncated image, missing image,
missing/empty caption) with their ``shard#key``. Exit status 1 when
anything is broken (0 with ``--no-fail``).
"""
import argparse
import json
import os.path as osp
import sys
from collections import Counter, defaultdict

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('urls', nargs='+', help='shard pattern(s) or files')
    p.add_argument('--data-root', default='', help='root of relative paths')
    p.add_argument('--image-ext', default='jpg;jpeg;png;webp')
    p.add_argument('--caption-ext', default='txt;json')
    p.add_argument('--caption-field', default='caption')
    p.add_argument('--workers', type=int, default=0,
                   help='dataloader workers (default 0: this process)')
    p.add_argument('--json', default=None, help='write the report here')
    p.add_argument('--no-fail', action='store_true',
                   help='exit 0 even when samples or shards are broken')
    return p.parse_args(argv)


def _summary(results: dict) -> dict:
    """Keep only what the report needs (no image crosses processes)."""
    return dict(key=results['img_path'])


def _collate(batch):
    from icar_mm.datasets.data_health import STATS_KEY, merge_stats
    stats = merge_stats(s.pop(STATS_KEY, None) for s in batch)
    return dict(keys=[s['key'] for s in batch], stats=stats)


def verify(urls, data_root: str = '', image_ext: str = 'jpg;jpeg;png;webp',
           caption_ext: str = 'txt;json', caption_field: str = 'caption',
           workers: int = 0) -> dict:
    """Read a shard set; return the report (see the module docstring)."""
    import icar_mm  # noqa: F401 (stack fixes)
    from torch.utils.data import DataLoader

    from icar_mm.datasets import WebImageTextDataset
    from icar_mm.datasets.webdataset_utils import expand_urls, read_sizes

    ds = WebImageTextDataset(
        urls=list(urls),
        data_root=data_root,
        image_ext=image_ext,
        caption_ext=caption_ext,
        caption_field=caption_field,
        pipeline=[_summary],
        batch_size=256,
        shuffle=False,
        skip_bad_samples=True,
        max_consecutive_bad=10**9,
        rank=0,
        world_size=1)
    shards = expand_urls(list(urls), data_root)
    per_shard = Counter()
    broken = []
    bad_shards = []
    opened = set()
    loader = DataLoader(ds, batch_size=None, num_workers=workers,
                        collate_fn=_collate)
    for batch in loader:
        for key in batch['keys']:
            per_shard[key.rsplit('#', 1)[0]] += 1
        st = batch['stats'] or {}
        opened.update(url for _, url in st.get('opened', []))
        for source, reason, key, detail in st.get('skipped', []):
            item = dict(reason=reason, key=key, detail=detail)
            (bad_shards if reason.endswith('_shard') else broken).append(item)
            if not reason.endswith('_shard'):
                per_shard.setdefault(key.rsplit('#', 1)[0], 0)
    broken_per_shard = defaultdict(int)
    for item in broken:
        broken_per_shard[item['key'].rsplit('#', 1)[0]] += 1
    sizes_total = read_sizes(list(urls), data_root)
    sizes_file = {}
    for url in shards:
        sf = osp.join(osp.dirname(url), 'sizes.json')
        if osp.isfile(sf) and sf not in sizes_file:
            with open(sf, encoding='utf-8') as f:
                sizes_file[sf] = json.load(f)
    size_mismatch = []
    for url in shards:
        expected = sizes_file.get(osp.join(osp.dirname(url), 'sizes.json'),
                                  {}).get(osp.basename(url))
        got = per_shard.get(url, 0) + broken_per_shard.get(url, 0)
        if expected is not None and int(expected) != got:
            size_mismatch.append(dict(shard=url, sizes_json=int(expected),
                                      read=got))
    return dict(
        num_shards=len(shards),
        num_samples=sum(per_shard.values()),
        num_broken=len(broken),
        sizes_json_total=sizes_total,
        samples_per_shard={u: per_shard.get(u, 0) for u in shards},
        broken_by_reason=dict(Counter(b['reason'] for b in broken)),
        broken=broken,
        bad_shards=bad_shards,
        size_mismatch=size_mismatch)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = verify(args.urls, args.data_root, args.image_ext,
                    args.caption_ext, args.caption_field, args.workers)
    print(f'{report["num_shards"]} shards, {report["num_samples"]} good '
          f'samples, {report["num_broken"]} broken samples '
          f'{report["broken_by_reason"] or ""}, '
          f'{len(report["bad_shards"])} unreadable/cut-off shards')
    for item in report['bad_shards']:
        print(f'  shard {item["reason"]}: {item["key"]} ({item["detail"]})')
    for item in report['broken'][:50]:
        print(f'  {item["reason"]}: {item["key"]}'
              + (f' ({item["detail"]})' if item['detail'] else ''))
    if len(report['broken']) > 50:
        print(f'  ... and {len(report["broken"]) - 50} more (see --json)')
    for item in report['size_mismatch']:
        print(f'  sizes.json says {item["sizes_json"]} samples in '
              f'{item["shard"]}, read {item["read"]}')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
    problems = (report['num_broken'] or report['bad_shards']
                or report['size_mismatch'])
    return 0 if (args.no_fail or not problems) else 1


if __name__ == '__main__':
    sys.exit(main())
