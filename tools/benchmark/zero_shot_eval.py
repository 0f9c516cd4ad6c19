"""Zero-shot evaluation cost: ours vs OpenCLIP's build_zero_shot_classifier.

Builds the zero-shot classifier for ``--classes`` of CLIP's ImageNet-1K
class names x CLIP's 80 templates with the same text weights (one Hugging Face
directory, loaded by OpenCLIP's ``HFTextEncoder`` inside ``CustomTextCLIP``
and by our ``TextEncoder``), then classifies ``--images`` image embeddings
(cosine + argmax):

* ``open_clip``: ``build_zero_shot_classifier(model, HFTokenizer, ...)``
  with its default 10 classes per batch, tokens padded to 77, + matmul;
* ``icar_mm/old``: ``TextClassifier.ensemble`` as in icar_mm 0.1 (1,024
  texts tokenized and encoded at a time, padded to their longest) + matmul;
* ``icar_mm/new``: ``TextClassifier.ensemble`` with the class texts
  tokenized once (into the classifier's token cache; timed, the cache
  starts empty) and encoded grouped by length + matmul.

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
from bench_utils import (REPO, TEXT_PATHS, machine,  # noqa: E402
                         padding_efficiency, parse_or_work, peak_rss_mb,
                         reset_peak_rss, run_worker, text_tower,
                         write_report)


def _worker(args) -> dict:
    import torch
    sys.path.insert(0, REPO)
    import icar_mm  # noqa: F401  (stack fixes before open_clip)
    from icar_mm.class_texts import ClassTextBank, get_templates
    from icar_mm.class_texts.clip_prompts import CLASSNAMES
    torch.set_num_threads(args.threads)
    # CLIP's ImageNet class names (unique, unlike WordNet's first lemmas)
    names = CLASSNAMES['imagenet'][:args.classes]
    templates = get_templates('imagenet')
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
        path = TEXT_PATHS[args.path]
        encoder = TextEncoder(pretrained=args.text, embed_dim=args.embed_dim,
                              max_length=77, **path['encoder']).eval()
        classifier = TextClassifier(**path['classifier'])
        classifier.share_text_encoder(encoder)
        sub = ClassTextBank(classes=names, templates=templates,
                            use_descriptions=False, lowercase=False)
        proj = encoder.proj.weight

        def build():  # caches empty: a fresh process, one build
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
    out = dict(build_seconds=build_s, classify_seconds=classify_s,
               seconds=build_s + classify_s,
               peak_growth_mb=peak_rss_mb() - base,
               pred_checksum=int(pred.sum()))
    if args.variant != 'open_clip':
        out.update(padding_efficiency=padding_efficiency(encoder),
                   attn_implementation=encoder.attn_implementation)
    return out


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
    parser.add_argument('--path', default='new', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parse_or_work(parser, _worker)
    if args is None:
        return
    args.text, text_label = text_tower(args.text)  # imports icar_mm
    import torch
    info = machine()
    out_dir = osp.join(REPO, 'work_dirs', 'benchmark_zero_shot')
    os.makedirs(out_dir, exist_ok=True)
    runs = {'open_clip': [], 'icar_mm/old': [], 'icar_mm/new': []}
    for _ in range(args.rounds):
        for name in runs:
            variant, _, path = name.partition('/')
            runs[name].append(json.loads(run_worker(__file__, [
                f'--variant={variant}', f'--path={path or "new"}',
                f'--classes={args.classes}', f'--images={args.images}',
                f'--embed-dim={args.embed_dim}', f'--text={args.text}',
                f'--threads={args.threads}',
                f'--out={osp.join(out_dir, name.replace("/", "_"))}.pth'])))
    weights = {v: torch.load(osp.join(out_dir, v.replace('/', '_') + '.pth'))
               for v in runs}
    agreement = min(float((weights['open_clip'] * weights[v]).sum(1).min())
                    for v in ('icar_mm/old', 'icar_mm/new'))
    results = {}
    for variant, rs in runs.items():
        results[variant] = {
            k: statistics.median(r[k] for r in rs)
            for k in ('build_seconds', 'classify_seconds', 'seconds',
                      'peak_growth_mb')}
        results[variant].update(
            {k: rs[-1][k] for k in ('padding_efficiency',
                                    'attn_implementation') if k in rs[-1]})
        results[variant]['rounds'] = rs

    def speed(a, b):
        return results[b]['seconds'] / results[a]['seconds']

    def memory(a, b):
        return (results[a]['peak_growth_mb'] /
                max(results[b]['peak_growth_mb'], 1e-6))
    report = dict(
        machine=info,
        setup=dict(classes=args.classes, templates=80, images=args.images,
                   embed_dim=args.embed_dim, text_tower=text_label,
                   threads=args.threads, rounds=args.rounds),
        results=results,
        min_cosine_between_class_weights=agreement,
        ratios={
            'icar_mm/new_vs_open_clip_speed': speed('icar_mm/new',
                                                    'open_clip'),
            'icar_mm/old_vs_open_clip_speed': speed('icar_mm/old',
                                                    'open_clip'),
            'icar_mm/new_vs_icar_mm/old_speed': speed('icar_mm/new',
                                                      'icar_mm/old'),
            'icar_mm/new_vs_open_clip_memory': memory('icar_mm/new',
                                                      'open_clip'),
            'icar_mm/new_vs_icar_mm/old_memory': memory('icar_mm/new',
                                                        'icar_mm/old'),
        })
    for name, r in results.items():
        print(f'{name:10s} build {r["build_seconds"]:7.2f} s  classify '
              f'{r["classify_seconds"]:.3f} s  +{r["peak_growth_mb"]:.0f} MB')
    print(f'class weights agree: min cosine {agreement:.5f}')
    for name, value in report['ratios'].items():
        print(f'{name}: {value:.2f}x')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
