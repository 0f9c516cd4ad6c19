"""Cost of the text-generated classifier per training step vs class count.

One training step of :class:`TextClassifier` (encode one random
template per described ImageNet class with the text encoder, cosine logits
for a batch of ``--batch`` image features, cross-entropy, backward) for
100, 1,000 and 21,841 classes (ImageNet-1K / 22K names + WordNet
definitions), three ways:

* ``full``: every class encoded on one rank (``shard_classes=False``);
* ``sharded``: 2 ranks (gloo), each encodes half of the classes, an
  all-gather with gradient assembles the weights (the author's way);
* ``subsampled``: the batch's classes + ``--negatives`` random others
  (``num_negatives``), labels remapped.

and each by two text paths (``--paths``): ``old``, icar_mm 0.1's (every
step tokenizes the step's class texts and pads them all to the longest),
and ``new`` (class texts tokenized once, encoded grouped by length).

Each (mode, classes, path) runs in fresh processes, one thread each;
per-rank median step time, peak resident memory during the steps
(``step_peak_mb``) and of the whole process, warm-up included
(``process_peak_mb``: the one-off tokenization of the class texts shows
there), the growth of the peak during the steps, tokenizer
calls and seconds during the steps and the padding efficiency (real tokens
/ token slots the text model processed) are reported; the first step
(tokenizing, allocator) is a warm-up and not timed. The
text tower is deliberately tiny (1-layer BERT, width 64, MiniLM's
tokenizer) so that 21,841 classes fit a CPU; the ratios, not the seconds,
carry over to real towers. Writes JSON and prints the table.

    python tools/benchmark/text_classifier_cost.py \
        --json tools/benchmark/results/text_classifier_cost.json
"""
import argparse
import json
import os.path as osp
import socket
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import (REPO, TEXT_PATHS, TokenizerTimer,  # noqa: E402
                         machine, maxrss_mb, minilm, padding_efficiency,
                         parse_or_work, peak_rss_mb, reset_peak_rss,
                         run_worker, write_report)

TINY_TEXT = dict(
    model_type='bert', vocab_size=30522, hidden_size=64,
    num_hidden_layers=1, num_attention_heads=2, intermediate_size=256,
    max_position_embeddings=512, hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)


def _classes(num: int) -> list:
    from icar_mm.class_texts import imagenet_class_texts
    if num <= 1000:
        return imagenet_class_texts('imagenet-1k')[:num]
    return imagenet_class_texts('imagenet-22k')[:num]


def _worker(args) -> dict:
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, REPO)
    import icar_mm  # noqa: F401
    from icar_mm.models.text import TextClassifier, TextEncoder
    torch.set_num_threads(1)
    if args.mode == 'sharded':
        import torch.distributed as dist
        dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:'
                                f'{args.port}', rank=args.rank, world_size=2)
    torch.manual_seed(0)
    path = TEXT_PATHS[args.path]
    timer = TokenizerTimer()
    encoder = TextEncoder(config=TINY_TEXT, tokenizer=minilm(), embed_dim=256,
                          max_length=77, **path['encoder'])
    classifier = TextClassifier(
        class_texts=dict(classes=_classes(args.num_classes),
                         templates='imagenet'),
        shard_classes=args.mode == 'sharded',
        num_negatives=args.negatives if args.mode == 'subsampled' else None,
        **path['classifier'])
    classifier.share_text_encoder(encoder)
    classifier.train()
    g = torch.Generator().manual_seed(args.rank)
    feats = torch.randn(args.batch, 256, generator=g, requires_grad=True)
    labels = torch.randint(0, args.num_classes, (args.batch, ),
                           generator=g)

    def step():
        logits, target = classifier(feats, labels)
        F.cross_entropy(logits, target).backward()
        encoder.zero_grad(set_to_none=True)
        return logits.shape[1]

    start = time.perf_counter()
    step()  # warm-up (class texts tokenized once, allocator)
    warmup = time.perf_counter() - start
    cache_mb = sum(c.nbytes for c in classifier._tokens.values()) / 2**20
    timer.reset()
    encoder.token_counts.update(real=0, slots=0)
    reset_peak_rss()
    base = peak_rss_mb()  # the current RSS right after the reset
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        encoded = step()
        times.append(time.perf_counter() - start)
    step_peak = peak_rss_mb()  # resident high-water mark of the steps
    return dict(seconds=statistics.median(times),
                peak_growth_mb=step_peak - base, step_peak_mb=step_peak,
                process_peak_mb=maxrss_mb(), classes_encoded=encoded,
                tokenizer_calls_per_step=timer.calls / args.steps,
                tokenizer_ms_per_step=1000 * timer.seconds / args.steps,
                padding_efficiency=padding_efficiency(encoder),
                warmup_seconds=warmup, token_cache_mb=cache_mb,
                attn_implementation=encoder.attn_implementation)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(args, mode: str, classes: int, path: str) -> dict:
    common = [f'--mode={mode}', f'--num-classes={classes}',
              f'--batch={args.batch}', f'--negatives={args.negatives}',
              f'--steps={args.steps}', f'--path={path}']
    if mode != 'sharded':
        return json.loads(run_worker(__file__, common + ['--rank=0']))
    import concurrent.futures
    port = _free_port()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        ranks = list(pool.map(
            lambda r: json.loads(run_worker(
                __file__, common + [f'--rank={r}', f'--port={port}'])),
            range(2)))
    worst = max(ranks, key=lambda r: r['seconds'])
    return dict(worst,
                peak_growth_mb=max(r['peak_growth_mb'] for r in ranks),
                process_peak_mb=max(r['process_peak_mb'] for r in ranks),
                step_peak_mb=max(r['step_peak_mb'] for r in ranks),
                classes_encoded=ranks[0]['classes_encoded'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--classes', type=int, nargs='+',
                        default=[1000, 21841])
    parser.add_argument('--modes', nargs='+',
                        default=['full', 'sharded', 'subsampled'])
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--negatives', type=int, default=256)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--paths', nargs='+', default=['old', 'new'],
                        choices=list(TEXT_PATHS))
    parser.add_argument('--mode', help=argparse.SUPPRESS)
    parser.add_argument('--path', default='new', help=argparse.SUPPRESS)
    parser.add_argument('--num-classes', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--port', type=int, help=argparse.SUPPRESS)
    args = parse_or_work(parser, _worker)
    if args is None:
        return
    info = machine()
    results = {}
    for classes in args.classes:
        for mode in args.modes:
            for path in args.paths:  # interleaved: load hits both alike
                r = _run(args, mode, classes, path)
                results[f'{path}/{mode}/{classes}'] = dict(
                    r, mode=mode, classes=classes, path=path)
                print(f'{path:3s} {mode:10s} {classes:6d} classes: encoded '
                      f'{r["classes_encoded"]:6d}  {r["seconds"]:7.2f} '
                      f's/step  +{r["peak_growth_mb"]:7.1f} MB  tokenizer '
                      f'{r["tokenizer_ms_per_step"]:7.1f} ms/step  padding '
                      f'{r["padding_efficiency"]:.3f}', flush=True)
    ratios = {}
    for classes in args.classes:
        for mode in args.modes:
            old = results.get(f'old/{mode}/{classes}')
            new = results.get(f'new/{mode}/{classes}')
            if old and new:
                ratios[f'new_vs_old_time/{mode}/{classes}'] = (
                    new['seconds'] / old['seconds'])
                ratios[f'new_vs_old_memory/{mode}/{classes}'] = (
                    new['process_peak_mb'] / old['process_peak_mb'])
        for path in args.paths:
            full = results.get(f'{path}/full/{classes}')
            for mode in ('sharded', 'subsampled'):
                r = results.get(f'{path}/{mode}/{classes}')
                if full and r:
                    ratios[f'{path}/{mode}_vs_full_time/{classes}'] = (
                        r['seconds'] / full['seconds'])
                    ratios[f'{path}/{mode}_vs_full_memory/{classes}'] = (
                        r['peak_growth_mb'] / full['peak_growth_mb'])
    sub = [results[f'new/subsampled/{c}'] for c in args.classes
           if f'new/subsampled/{c}' in results
           and c > args.negatives + args.batch]
    if len(sub) >= 2:
        ratios['subsampled_memory_largest_vs_smallest_count'] = (
            sub[-1]['peak_growth_mb'] / sub[0]['peak_growth_mb'])
    report = dict(machine=info, setup=dict(
        batch=args.batch, negatives=args.negatives, steps=args.steps,
        text_tower=TINY_TEXT, tokenizer='MiniLM (WordPiece)',
        class_texts='ImageNet names + WordNet definitions, 1 of 80 '
        'templates per class per step', threads_per_rank=1,
        text_paths=TEXT_PATHS),
        results=results, ratios=ratios)
    for name, value in ratios.items():
        print(f'{name}: {value:.2f}x')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
