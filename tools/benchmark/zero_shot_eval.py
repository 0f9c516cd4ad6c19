"""Zero-shot evaluation cost: ours vs OpenCLIP's ``build_zero_shot_classifier``.

Builds the zero-shot classifier for ``--classes`` ImageNet-1K class names
x CLIP's 80 templates with the same text weights (one Hugging Face
directory, loaded by OpenCLIP's ``HFTextEncoder`` inside ``CustomTextCLIP``
and by our ``TextEncoder``), then classifies ``--images`` image embeddings
(cosine + argmax):

* ``open_clip``: ``build_zero_shot_classifier(model, HFTokenizer, ...)``
  with its default 10 classes per batch, tokens padded to 77, + matmul;
* ``icar_mm``: ``TextClassifier.ensemble`` (1,024
  texts per forward, padded to the longest; cached) + matmul.

Both run in fresh processes, one after the other, ``--rounds`` times; the
median is kept. The two classifiers are checked to agree (cosine of the
class weights) so that the speed compares equal work. Writes JSON and
prints the ratio.

    python tools/benchmark/zero_shot_eval.py \
        --json tools/benchmark/results/zero_shot_eval.json
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import (REPO, machine, parse_or_work,  # noqa: E402
                         peak_rss_mb, reset_peak_rss, run_worker, text_tower,
                         write_report)


def _worker(args) -> dict:
    import torch
    sys.path.insert(0, REPO)
    import icar_mm  # noqa: F401  (stack fixes before open_clip)
    from icar_mm.class_texts import ClassTextBank
    torch.set_num_threads(args.threads)
    bank = ClassTextBank(source=dict(type='imagenet-1k'),
                         templates='imagenet', use_descriptions=False)
    names, templates = bank.class_texts[:args.classes], bank.templates
    feats = torch.nn.functional.normalize(
        torch.randn(args.images, args.embed_dim,
                    generator=torch.Generator().manual_seed(0)), dim=-1)
    torch.manual_seed(0)
    if args.variant == 'open_clip':
        from open_clip.model import CustomTextCLIP
        from open_clip.tokenizer import HFTokenizer
        from open_clip.zero_shot_classifier import build_zero_shot_classifier
        model = CustomTextCLIP(
            embed_dim=args.embed_dim,
            vision_cfg=dict(timm_model_name='resnet18',
                            timm_model_pretrained=False, timm_pool='avg',
                            timm_proj='linear', image_size=64),
            text_cfg=dict(hf_model_name=args.text, hf_tokenizer_name=args.text,
                          hf_proj_type='linear',
                          hf_pooler_type='mean_pooler')).eval()
        tokenizer = HFTokenizer(args.text, context_length=77)
        proj = model.text.proj.weight

        def build():
            with torch.no_grad():
                return build_zero_shot_classifier(
                    model, tokenizer, names, templates).t()
    else:
        from icar_mm.models.text import TextClassifier, TextEncoder
        encoder = TextEncoder(pretrained=args.text, embed_dim=args.embed_dim,
                              max_length=77).eval()
        classifier = TextClassifier()
        classifier.share_text_encoder(encoder)
        sub = ClassTextBank(classes=names, templates=templates,
                            use_descriptions=False, lowercase=False)
        proj = encoder.proj.weight

        def build():
            classifier._ensembles.clear()  # time the build, not the cache
            return classifier.ensemble(sub)

    # the same projection in both, so the class weights are comparable
    with torch.no_grad():
        proj.copy_(torch.randn(proj.shape,
                               generator=torch.Generator().manual_seed(1)) *
                   proj.shape[1]**-0.5)
    reset_peak_rss()
    base = peak_rss_mb()
    start = time.perf_counter()
    weights = build()
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        pred = (feats @ weights.t()).argmax(1)
    classify_s = time.perf_counter() - start
    torch.save(weights, args.out)
    return dict(build_seconds=build_s, classify_seconds=classify_s,
                seconds=build_s + classify_s,
                peak_growth_mb=peak_rss_mb() - base,
                pred_checksum=int(pred.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--classes', type=int, default=1000)
    parser.add_argument('--images', type=int, default=10000)
    parser.add_argument('--embed-dim', type=int, default=256)
    parser.add_argument('--text', default='small',
                        help="'small' (2-layer BERT, MiniLM tokenizer), "
                        "'minilm' (the real MiniLM) or a model directory")
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--variant', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parse_or_work(parser, _worker)
    if args is None:
        return
    args.text, text_label = text_tower(args.text)  # imports icar_mm
    import torch
    info = machine()
    out_dir = osp.join(REPO, 'work_dirs', 'benchmark_zero_shot')
    os.makedirs(out_dir, exist_ok=True)
    runs = {'open_clip': [], 'icar_mm': []}
    for _ in range(args.rounds):
        for variant in runs:
            runs[variant].append(json.loads(run_worker(__file__, [
                f'--variant={variant}', f'--classes={args.classes}',
                f'--images={args.images}', f'--embed-dim={args.embed_dim}',
                f'--text={args.text}', f'--threads={args.threads}',
                f'--out={osp.join(out_dir, variant + ".pth")}'])))
    weights = {v: torch.load(osp.join(out_dir, v + '.pth')) for v in runs}
    agreement = float((weights['open_clip'] *
                       weights['icar_mm']).sum(1).min())
    results = {}
    for variant, rs in runs.items():
        results[variant] = {
            k: statistics.median(r[k] for r in rs)
            for k in ('build_seconds', 'classify_seconds', 'seconds',
                      'peak_growth_mb')}
        results[variant]['rounds'] = rs
    speedup = results['open_clip']['seconds'] / results['icar_mm']['seconds']
    report = dict(
        machine=info,
        setup=dict(classes=args.classes, templates=80, images=args.images,
                   embed_dim=args.embed_dim, text_tower=text_label,
                   threads=args.threads, rounds=args.rounds),
        results=results,
        min_cosine_between_class_weights=agreement,
        ratios=dict(icar_mm_vs_open_clip_speed=speedup,
                    icar_mm_vs_open_clip_memory=(
                        results['icar_mm']['peak_growth_mb'] /
                        max(results['open_clip']['peak_growth_mb'], 1e-6))))
    for name, r in results.items():
        print(f'{name:10s} build {r["build_seconds"]:7.2f} s  classify '
              f'{r["classify_seconds"]:.3f} s  +{r["peak_growth_mb"]:.0f} MB')
    print(f'class weights agree: min cosine {agreement:.5f}')
    print(f'icar_mm_vs_open_clip_speed: {speedup:.2f}x')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
