"""Training-step throughput and memory: OpenCLIP vs our CLIP-only vs iCAR.

Same image tower (timm ResNet-18: OpenCLIP's ``TimmModel``, ours through
mmpretrain's ``TIMMBackbone``), same text tower (the same Hugging Face
weights loaded from one directory by OpenCLIP's ``HFTextEncoder`` and our
``TextEncoder``: mean pooling, bias-free linear projection), same
embedding size, AdamW, ``--batch`` images per step:

* ``open_clip``: ``CustomTextCLIP`` + ``ClipLoss``; captions tokenized
  beforehand, as OpenCLIP's data loader does (padded to 77 tokens);
* ``icar_clip``: our CLIP-only baseline (``ICAR`` with ``itc_loss``), its
  ``train_step``;
* ``icar``: iCAR, ``--batch / 2`` labelled images + ``--batch / 2``
  image-text pairs (the same number of images), class weights from the text
  encoder for ``--classes`` described ImageNet classes (one random template
  each) every step;
* ``icar_subsampled``: the same with class subsampling (the batch's classes
  + ``--negatives`` others encoded per step).

Our variants run by two text paths (``--paths``): ``old``, icar_mm 0.1's
(captions and class texts tokenized inside the step, every text batch
padded to its longest) and ``new`` (captions tokenized beforehand, as
``TokenizeCaption`` does in the dataloader workers; class texts tokenized
once; texts encoded grouped by length). Each run also reports the
tokenizer's calls and milliseconds per step in the training process, the
padding efficiency (real tokens / token slots of the text model) and the
class branch's forward seconds (class weights from the text encoder).

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
from bench_utils import (REPO, TEXT_PATHS, TokenizerTimer,  # noqa: E402
                         machine, padding_efficiency, parse_or_work,
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
    timer = TokenizerTimer()
    stats = dict(class_branch_s=0.)
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

        from icar_mm.class_texts import imagenet_class_texts
        from icar_mm.registry import MODELS
        path = TEXT_PATHS[args.path]
        cfg = dict(
            type='ICAR',
            backbone=dict(type='TIMMBackbone', model_name='resnet18',
                          pretrained=False),
            neck=dict(type='GlobalAveragePooling'),
            feat_channels=512,
            embed_dim=args.embed_dim,
            text_encoder=dict(pretrained=args.text, max_length=77,
                              **path['encoder']),
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
                    if args.variant == 'icar_subsampled' else None,
                    **path['classifier']))
            batch['cls'] = dict(
                inputs=list(images[half:]),
                data_samples=[DataSample().set_gt_label(i % args.classes)
                              for i in range(n - half)])
        model = MODELS.build(cfg)
        model.train()
        if path['captions_tokenized_by_loader']:  # as TokenizeCaption does
            tokenizer = model.text_encoder.tokenizer
            for sample, ids in zip(itc, tokenizer(captions[:half])):
                sample.text_ids = ids
                sample.text_tokenizer = tokenizer.fingerprint
        classifier = model.text_classifier
        if 'cls' in batch:
            class_embeddings = classifier.class_embeddings

            def timed_class_embeddings(*a, **kw):
                start = time.perf_counter()
                out = class_embeddings(*a, **kw)
                stats['class_branch_s'] += time.perf_counter() - start
                return out

            classifier.class_embeddings = timed_class_embeddings
        optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))

        def step():
            model.train_step(batch, optim)

    for _ in range(args.warmup):
        step()
    reset_peak_rss()
    timer.reset()
    stats['class_branch_s'] = 0.
    encoder = None if args.variant == 'open_clip' else model.text_encoder
    if encoder is not None:
        encoder.token_counts.update(real=0, slots=0)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    out = dict(seconds=statistics.median(times), peak_mb=peak_rss_mb(),
               tokenizer_calls_per_step=timer.calls / args.steps,
               tokenizer_ms_per_step=1000 * timer.seconds / args.steps)
    if encoder is not None:
        out.update(padding_efficiency=padding_efficiency(encoder),
                   class_branch_forward_s=stats['class_branch_s'] /
                   args.steps,
                   attn_implementation=encoder.attn_implementation)
    return out


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
    parser.add_argument('--paths', nargs='+', default=['old', 'new'],
                        choices=list(TEXT_PATHS),
                        help='text paths of our variants')
    parser.add_argument('--variant', help=argparse.SUPPRESS)
    parser.add_argument('--path', default='new', help=argparse.SUPPRESS)
    args = parse_or_work(parser, _worker)
    if args is None:
        return
    args.text, text_label = text_tower(args.text)
    info = machine()
    keys = [(v, None) if v == 'open_clip' else (v, p)
            for v in args.variants for p in
            ([None] if v == 'open_clip' else args.paths)]
    runs = {k: [] for k in keys}
    common = [f'--{k.replace("_", "-")}={getattr(args, k)}' for k in (
        'batch', 'image_size', 'embed_dim', 'classes', 'negatives', 'text',
        'threads', 'warmup', 'steps')]
    for _ in range(args.rounds):
        for variant, path in keys:
            runs[(variant, path)].append(json.loads(run_worker(
                __file__, common + [f'--variant={variant}',
                                    f'--path={path or "new"}'])))
    results = {}
    for (variant, path), rs in runs.items():
        seconds = statistics.median(r['seconds'] for r in rs)
        name = variant if path is None else f'{variant}/{path}'
        results[name] = dict(
            {k: v for k, v in rs[-1].items() if k not in ('seconds',
                                                          'peak_mb')},
            images_per_s=args.batch / seconds, step_seconds=seconds,
            peak_mb=max(r['peak_mb'] for r in rs), rounds=rs)
    ratios = {}
    pairs = [(f'icar_clip/{p}', 'open_clip', ('speed', 'memory'))
             for p in args.paths]
    for p in args.paths:
        pairs += [(f'icar/{p}', f'icar_clip/{p}', ('speed', 'memory')),
                  (f'icar_subsampled/{p}', f'icar_clip/{p}', ('speed', ))]
    for v in args.variants:
        pairs.append((f'{v}/new', f'{v}/old', ('speed', 'memory')))
    for a, b, kinds in pairs:
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
        threads=args.threads, steps=args.steps, rounds=args.rounds,
        text_paths=TEXT_PATHS),
        results=results, ratios=ratios)
    for name, r in results.items():
        print(f'{name:20s} {r["images_per_s"]:7.1f} img/s  '
              f'step {r["step_seconds"]:.3f} s  peak {r["peak_mb"]:.0f} MB  '
              f'tokenizer {r["tokenizer_ms_per_step"]:.1f} ms/step  '
              f'padding {r.get("padding_efficiency") or 0:.3f}')
    for name, value in ratios.items():
        print(f'{name}: {value:.2f}x')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
