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

Each (mode, classes) runs in fresh processes, one thread each; per-rank
median step time and peak RSS growth during the steps are reported. The
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
from bench_utils import (REPO, machine, minilm,  # noqa: E402
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
    encoder = TextEncoder(config=TINY_TEXT, tokenizer=minilm(), embed_dim=256,
                          max_length=77)
    classifier = TextClassifier(
        class_texts=dict(classes=_classes(args.num_classes),
                         templates='imagenet'),
        shard_classes=args.mode == 'sharded',
        num_negatives=args.negatives if args.mode == 'subsampled' else None)
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

    step()  # warm-up (tokenizer caches, allocator)
    reset_peak_rss()
    base = peak_rss_mb()  # the current RSS right after the reset
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        encoded = step()
        times.append(time.perf_counter() - start)
    return dict(seconds=statistics.median(times),
                peak_growth_mb=peak_rss_mb() - base, classes_encoded=encoded)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(args, mode: str, classes: int) -> dict:
    common = [f'--mode={mode}', f'--num-classes={classes}',
              f'--batch={args.batch}', f'--negatives={args.negatives}',
              f'--steps={args.steps}']
    if mode != 'sharded':
        return json.loads(run_worker(__file__, common + ['--rank=0']))
    import concurrent.futures
    port = _free_port()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        ranks = list(pool.map(
            lambda r: json.loads(run_worker(
                __file__, common + [f'--rank={r}', f'--port={port}'])),
            range(2)))
    return dict(seconds=max(r['seconds'] for r in ranks),
                peak_growth_mb=max(r['peak_growth_mb'] for r in ranks),
                classes_encoded=ranks[0]['classes_encoded'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--classes', type=int, nargs='+',
                        default=[100, 1000, 21841])
    parser.add_argument('--modes', nargs='+',
                        default=['full', 'sharded', 'subsampled'])
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--negatives', type=int, default=256)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--mode', help=argparse.SUPPRESS)
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
            r = _run(args, mode, classes)
            results[f'{mode}/{classes}'] = dict(r, mode=mode, classes=classes)
            print(f'{mode:10s} {classes:6d} classes: encoded '
                  f'{r["classes_encoded"]:6d}  {r["seconds"]:7.2f} s/step  '
                  f'+{r["peak_growth_mb"]:7.1f} MB', flush=True)
    ratios = {}
    for classes in args.classes:
        full = results.get(f'full/{classes}')
        for mode in ('sharded', 'subsampled'):
            r = results.get(f'{mode}/{classes}')
            if full and r:
                ratios[f'{mode}_vs_full_time/{classes}'] = (
                    r['seconds'] / full['seconds'])
                ratios[f'{mode}_vs_full_memory/{classes}'] = (
                    r['peak_growth_mb'] / full['peak_growth_mb'])
    sub = [results[f'subsampled/{c}'] for c in args.classes
           if f'subsampled/{c}' in results and c > args.negatives + args.batch]
    if len(sub) >= 2:
        ratios['subsampled_memory_largest_vs_smallest_count'] = (
            sub[-1]['peak_growth_mb'] / sub[0]['peak_growth_mb'])
    report = dict(machine=info, setup=dict(
        batch=args.batch, negatives=args.negatives, steps=args.steps,
        text_tower=TINY_TEXT, tokenizer='MiniLM (WordPiece)',
        class_texts='ImageNet names + WordNet definitions, 1 of 80 '
        'templates per class per step', threads_per_rank=1),
        results=results, ratios=ratios)
    for name, value in ratios.items():
        print(f'{name}: {value:.2f}x')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
