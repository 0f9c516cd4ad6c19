"""Training-step throughput and memory: OpenCLIP vs our CLIP-only vs iCAR.

Same image tower (timm ResNet-18: OpenCLIP's ``TimmModel``, ours through
mmpretrain's ``TIMMBackbone``), same text tower (the same Hugging Face
weights loaded from one directory by OpenCLIP's ``HFTextEncoder`` and our
``TextEncoder``: mean pooling, bias-free linear projection), same
embedding size, AdamW, ``--batch`` images per step:

* ``open_clip``: ``CustomTextCLIP`` + ``ClipLoss``; captions tokenized
  beforehand, as OpenCLIP's data loader does (padded to 77 tokens);
* ``icar_clip``: our CLIP-only baseline (``ICAR`` with ``itc_loss``), its
  ``train_step`` (tokenization inside the step, padded to the longest);
* ``icar``: iCAR, ``--batch / 2`` labelled images + ``--batch / 2``
  image-text pairs (the same number of images), class weights from the text
  encoder for ``--classes`` described ImageNet classes (one random template
  each) every step;
* ``icar_subsampled``: the same with class subsampling (the batch's classes
  + ``--negatives`` others encoded per step).

Variants run in fresh processes, round-robin over ``--rounds`` rounds so
that load on a shared machine hits all of them alike; the median step time
and the largest peak are kept. Writes JSON with the machine description and
prints images/s, peak memory and ratios.

    python tools/benchmark/train_step.py \
        --json tools/benchmark/results/train_step.json
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import (REPO, machine, parse_or_work,  # noqa: E402
                         peak_rss_mb, reset_peak_rss, run_worker, text_tower,
                         write_report)

CAPTION_WORDS = ('a photo of a small red bird sitting on a branch near the '
                 'river at sunset with trees in the background').split()


def _captions(n: int):
    return [' '.join(CAPTION_WORDS[i % 5:i % 5 + 6 + i % 9]) for i in range(n)]


def _worker(args) -> dict:
    import torch
    sys.path.insert(0, REPO)
    import icar_mm  # noqa: F401  (stack fixes before open_clip)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, size = args.batch, args.image_size
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    captions = _captions(n)
    if args.variant == 'open_clip':
        from open_clip.loss import ClipLoss
        from open_clip.model import CustomTextCLIP
        from open_clip.tokenizer import HFTokenizer
        model = CustomTextCLIP(
            embed_dim=args.embed_dim,
            vision_cfg=dict(timm_model_name='resnet18',
                            timm_model_pretrained=False, timm_pool='avg',
                            timm_proj='linear', image_size=size),
            text_cfg=dict(hf_model_name=args.text, hf_tokenizer_name=args.text,
                          hf_proj_type='linear',
                          hf_pooler_type='mean_pooler'))
        tokens = HFTokenizer(args.text, context_length=77)(captions)
        pixels = (images.float() / 255 - 0.45) / 0.27
        loss_fn = ClipLoss()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()

        def step():
            img, txt, scale = model(pixels, tokens)
            loss = loss_fn(img, txt, scale)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    else:
        from mmengine.optim import OptimWrapper
        from mmpretrain.structures import DataSample

        from icar_mm.registry import MODELS
        from icar_mm.class_texts import imagenet_class_texts
        cfg = dict(
            type='ICAR',
            backbone=dict(type='TIMMBackbone', model_name='resnet18',
                          pretrained=False),
            neck=dict(type='GlobalAveragePooling'),
            feat_channels=512,
            embed_dim=args.embed_dim,
            text_encoder=dict(pretrained=args.text, max_length=77),
            itc_loss=dict(type='ContrastiveLoss'),
            data_preprocessor=dict(type='TwoStreamDataPreprocessor',
                                   mean=[114.75] * 3, std=[68.85] * 3))
        itc = []
        # iCAR: half labelled, half captioned images
        half = n if args.variant == 'icar_clip' else n // 2
        for caption in captions[:half]:
            sample = DataSample()
            sample.text = caption
            itc.append(sample)
        batch = dict(itc=dict(inputs=list(images[:half]), data_samples=itc))
        if args.variant in ('icar', 'icar_subsampled'):
            classes = imagenet_class_texts('imagenet-1k')[:args.classes]
            cfg['cls_head'] = dict(
                type='TextMetaClassifier',
                classifier=dict(
                    class_texts=dict(classes=classes, templates='imagenet'),
                    num_negatives=args.negatives
                    if args.variant == 'icar_subsampled' else None))
            batch['cls'] = dict(
                inputs=list(images[half:]),
                data_samples=[DataSample().set_gt_label(i % args.classes)
                              for i in range(n - half)])
        model = MODELS.build(cfg)
        model.train()
        optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))

        def step():
            model.train_step(batch, optim)

    for _ in range(args.warmup):
        step()
    reset_peak_rss()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return dict(seconds=statistics.median(times), peak_mb=peak_rss_mb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--image-size', type=int, default=96)
    parser.add_argument('--embed-dim', type=int, default=256)
    parser.add_argument('--classes', type=int, default=1000,
                        help='described ImageNet classes of the iCAR step')
    parser.add_argument('--negatives', type=int, default=128,
                        help='negatives of the icar_subsampled variant')
    parser.add_argument('--text', default='small',
                        help="'small' (2-layer BERT, MiniLM tokenizer), "
                        "'minilm' (the real 6-layer MiniLM) or a model dir")
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--variants', nargs='+',
                        default=['open_clip', 'icar_clip', 'icar',
                                 'icar_subsampled'])
    parser.add_argument('--variant', help=argparse.SUPPRESS)
    args = parse_or_work(parser, _worker)
    if args is None:
        return
    args.text, text_label = text_tower(args.text)
    info = machine()
    runs = {v: [] for v in args.variants}
    common = [f'--{k.replace("_", "-")}={getattr(args, k)}' for k in (
        'batch', 'image_size', 'embed_dim', 'classes', 'negatives', 'text',
        'threads', 'warmup', 'steps')]
    for _ in range(args.rounds):
        for variant in args.variants:
            runs[variant].append(json.loads(run_worker(
                __file__, common + [f'--variant={variant}'])))
    results = {}
    for variant, rs in runs.items():
        seconds = statistics.median(r['seconds'] for r in rs)
        results[variant] = dict(
            images_per_s=args.batch / seconds, step_seconds=seconds,
            peak_mb=max(r['peak_mb'] for r in rs), rounds=rs)
    ratios = {}
    for a, b, kinds in (('icar_clip', 'open_clip', ('speed', 'memory')),
                        ('icar', 'icar_clip', ('speed', 'memory')),
                        ('icar_subsampled', 'icar_clip', ('speed', ))):
        if a in results and b in results:
            for kind in kinds:
                key = 'images_per_s' if kind == 'speed' else 'peak_mb'
                ratios[f"{a}_vs_{b}_{kind}"] = (results[a][key] /
                                                results[b][key])
    report = dict(machine=info, setup=dict(
        batch=args.batch, image_size=args.image_size,
        embed_dim=args.embed_dim, icar_classes=args.classes,
        icar_negatives=args.negatives,
        image_tower='timm resnet18', text_tower=text_label,
        threads=args.threads, steps=args.steps, rounds=args.rounds),
        results=results, ratios=ratios)
    for name, r in results.items():
        print(f'{name:10s} {r["images_per_s"]:7.1f} img/s  '
              f'step {r["step_seconds"]:.3f} s  peak {r["peak_mb"]:.0f} MB')
    for name, value in ratios.items():
        print(f'{name}: {value:.2f}x')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
