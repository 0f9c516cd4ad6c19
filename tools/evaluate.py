"""Evaluate an iCAR checkpoint with the protocols of CLIP and the iCAR paper.

Zero-shot classification on ImageNet-1K and Kornblith-12 (every dataset
found under --data-root; absent ones are skipped with a notice)::

    python tools/evaluate.py zero-shot CONFIG CHECKPOINT --data-root data \\
        --datasets imagenet kornblith12 --descriptions wordnet --out-dir OUT

writes OUT/zero_shot.{json,md,png}: each dataset with its protocol's metric
(top-1; mean per-class accuracy for Aircraft, Pets, Caltech-101, Flowers;
11-point mAP for VOC 2007) under CLIP's names and, with --descriptions,
iCAR's "name, description" class texts; and the mean.

Linear probe and few-shot (K = 1, 2, 4, 8, 16; 3 seeds) on frozen features
cached in --cache-dir::

    python tools/evaluate.py linear-probe CONFIG CHECKPOINT --data-root data \\
        --datasets kornblith12 --out-dir OUT

Image-text retrieval (Karpathy split JSON)::

    python tools/evaluate.py retrieval CONFIG CHECKPOINT \\
        --ann-file data/coco/dataset_coco.json --image-root data/coco

WiSE-FT (Wortsman et al.): the interpolations between the weights a
fine-tuning run started from and the fine-tuned ones, each evaluated on the
config's validation (the fine-tuning classes, the model's head) and
zero-shot (held-out vocabularies)::

    python tools/evaluate.py wise-ft FT_CONFIG FT_CHECKPOINT \\
        --zero-shot ZERO_SHOT_CHECKPOINT --alphas 0 0.25 0.5 0.75 1 \\
        --datasets config --out-dir OUT

writes OUT/wise_ft.{json,md,png}. Without --zero-shot the start is the
config's load_from, else the model the config builds (a CLIP from its
Hugging Face directory).

Pseudo-datasets: ``config`` (the config's own test set and vocabularies,
i.e. what training's validation reports) and ``synthetic_world``.

The evaluations are :mod:`icar_mm.evaluation`'s (they return dicts); the
tables, result files and plots are written here.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import icar_mm  # noqa: E402,F401
from mmengine.config import DictAction  # noqa: E402


METRIC_NAMES = dict(top1='top-1', mean_per_class='mean per class',
                    map11='11-pt mAP')


def _fmt(v: Optional[float]) -> str:
    return '-' if v is None or (isinstance(v, float) and math.isnan(v)) \
        else f'{v:.2f}'


def zero_shot_table(results: Dict) -> str:
    """Markdown: one row per dataset, one column per vocabulary, the mean.

    ``results['datasets'][name]`` holds ``title``, ``metric``, ``status``
    and ``scores`` (vocabulary -> value).
    """
    rows = [(n, r) for n, r in results['datasets'].items()]
    vocabs: List[str] = []
    for _, r in rows:
        vocabs += [v for v in r.get('scores', {}) if v not in vocabs]
    lines = ['| dataset | metric | ' + ' | '.join(vocabs) + ' |',
             '|---|---|' + '---:|' * len(vocabs)]
    for name, r in rows:
        if r.get('status') != 'ok':
            lines.append(f"| {r.get('title', name)} | "
                         f"{METRIC_NAMES.get(r.get('metric'), '')} | " +
                         ' | '.join(['n/a'] * len(vocabs)) + ' |')
            continue
        lines.append(f"| {r['title']} | {METRIC_NAMES[r['metric']]} | " +
                     ' | '.join(_fmt(r['scores'].get(v)) for v in vocabs) +
                     ' |')
    means = results.get('mean', {})
    lines.append(f"| **mean** ({results.get('num_evaluated', 0)} datasets) "
                 '| | ' + ' | '.join(f'**{_fmt(means.get(v))}**'
                                     for v in vocabs) + ' |')
    skipped = [r.get('title', n) for n, r in rows
               if r.get('status') != 'ok']
    if skipped:
        lines.append('')
        lines.append('n/a: not found under the data root: ' +
                     ', '.join(skipped) + '.')
    return '\n'.join(lines) + '\n'


def few_shot_table(results: Dict) -> str:
    """Markdown: dataset x K, ``mean ± std`` over seeds."""
    shots = sorted({int(k) for r in results['datasets'].values()
                    for k in r.get('few_shot', {})})
    lines = ['| dataset | linear probe | ' +
             ' | '.join(f'{k}-shot' for k in shots) + ' |',
             '|---|---:|' + '---:|' * len(shots)]
    for name, r in results['datasets'].items():
        fs = r.get('few_shot', {})
        lp = r.get('linear_probe', {}).get('score')
        lines.append(f"| {r.get('title', name)} | {_fmt(lp)} | " + ' | '.join(
            f"{fs[str(k)]['mean']:.2f} ± {fs[str(k)]['std']:.2f}"
            if str(k) in fs else '-' for k in shots) + ' |')
    return '\n'.join(lines) + '\n'


def write_results(results: Dict, out_dir: str, stem: str,
                  table: str) -> Dict[str, str]:
    """Write ``OUT_DIR/STEM.json`` (the results) and ``STEM.md``."""
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(json=osp.join(out_dir, f'{stem}.json'),
                 markdown=osp.join(out_dir, f'{stem}.md'))
    with open(paths['json'], 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1)
    with open(paths['markdown'], 'w', encoding='utf-8') as f:
        f.write(table)
    return paths


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_zero_shot_bars(results: Dict, path: str) -> str:
    """Per-dataset bar chart (a group of bars per vocabulary)."""
    plt = _pyplot()
    done = [(n, r) for n, r in results['datasets'].items()
            if r.get('status') == 'ok']
    vocabs: List[str] = []
    for _, r in done:
        vocabs += [v for v in r['scores'] if v not in vocabs]
    titles = [r['title'] for _, r in done] + ['mean']
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(titles) + 2), 4))
    width = 0.8 / max(1, len(vocabs))
    for i, v in enumerate(vocabs):
        vals = [r['scores'].get(v, float('nan')) for _, r in done]
        vals.append(results.get('mean', {}).get(v, float('nan')))
        xs = [j + (i - (len(vocabs) - 1) / 2) * width
              for j in range(len(titles))]
        bars = ax.bar(xs, vals, width, label=v)
        ax.bar_label(bars, fmt='%.1f', fontsize=7)
    ax.set_xticks(range(len(titles)))
    ax.set_xticklabels(titles, rotation=30, ha='right')
    ax.set_ylabel('zero-shot score (%)')
    ax.set_ylim(0, 105)
    ax.set_title('Zero-shot classification')
    if len(vocabs) > 1:
        ax.legend(fontsize=8)
    return _save(plt, fig, path)


def plot_few_shot_curves(results: Dict, path: str) -> str:
    """Score vs K (log scale), mean ± std over seeds, one line a dataset."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results['datasets'].items():
        fs = r.get('few_shot')
        if not fs:
            continue
        ks = sorted(int(k) for k in fs)
        mean = [fs[str(k)]['mean'] for k in ks]
        std = [fs[str(k)]['std'] for k in ks]
        line = ax.errorbar(ks, mean, yerr=std, marker='o', capsize=3,
                           label=r.get('title', name))
        zs = r.get('zero_shot')
        if zs is not None:
            ax.axhline(zs, ls='--', lw=0.8, color=line[0].get_color())
    ax.set_xscale('log', base=2)
    ax.set_xlabel('training samples per class (K)')
    ax.set_ylabel('test score (%)')
    ax.set_title('Few-shot linear probe (dashed: zero-shot)')
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def report_zero_shot(results: Dict, out_dir: str) -> str:
    """``zero_shot.{json,md,png}`` in ``out_dir`` (the plot when a dataset
    was evaluated); ``results['files']`` names them. Returns the table."""
    table = zero_shot_table(results)
    files = write_results(results, out_dir, 'zero_shot', table)
    if any(r['status'] == 'ok' for r in results['datasets'].values()):
        files['plot'] = plot_zero_shot_bars(
            results, osp.join(out_dir, 'zero_shot.png'))
    results['files'] = files
    return table


def report_linear_probe(results: Dict, out_dir: str) -> str:
    """``linear_probe.{json,md}`` and ``few_shot.png`` (when a few-shot
    protocol ran) in ``out_dir``; ``results['files']`` names them. Returns
    the table."""
    table = few_shot_table(results)
    files = write_results(results, out_dir, 'linear_probe', table)
    if any(r.get('few_shot') for r in results['datasets'].values()):
        files['plot'] = plot_few_shot_curves(
            results, osp.join(out_dir, 'few_shot.png'))
    results['files'] = files
    return table


def wise_ft_table(results: Dict) -> str:
    """Markdown: one row per alpha, seen metrics then zero-shot scores."""
    rows = results['rows']
    seen_keys = list(rows[0].get('seen') or {})
    zs_keys = [(d, v) for d, scores in rows[0]['zero_shot'].items()
               for v in scores]
    head = ['alpha'] + [f'seen {k}' for k in seen_keys] + [
        f'zero-shot {d} ({v})' for d, v in zs_keys]
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join([' ---: '] * len(head)) + '|']
    for r in rows:
        cells = [f"{r['alpha']:.2f}"] + [
            _fmt(r['seen'][k]) for k in seen_keys
        ] + [_fmt(r['zero_shot'][d].get(v)) for d, v in zs_keys]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot_wise_ft(results: Dict, path: str) -> str:
    """Zero-shot (mean, per vocabulary) against seen accuracy along alpha."""
    plt = _pyplot()
    rows = results['rows']
    seen_key = next(iter(rows[0].get('seen') or {}), None)
    fig, ax = plt.subplots(figsize=(5, 4))
    for vocab in rows[0]['zero_shot_mean']:
        xs = [r['seen'][seen_key] if seen_key else r['alpha'] for r in rows]
        ys = [r['zero_shot_mean'][vocab] for r in rows]
        ax.plot(xs, ys, 'o-', label=vocab)
        for x, y, r in zip(xs, ys, rows):
            ax.annotate(f"{r['alpha']:g}", (x, y), fontsize=7,
                        textcoords='offset points', xytext=(3, 3))
    ax.set_xlabel(f'seen {seen_key}' if seen_key else 'alpha')
    ax.set_ylabel('zero-shot (mean)')
    ax.set_title('WiSE-FT: zero-shot -> fine-tuned (alpha)')
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='task', required=True)

    def common(p):
        p.add_argument('config')
        p.add_argument('checkpoint')
        p.add_argument('--out-dir', default='work_dirs/eval')
        p.add_argument('--device', default='cpu')
        p.add_argument('--batch-size', type=int, default=64)
        p.add_argument('--num-workers', type=int, default=0)
        p.add_argument('--image-size', type=int, default=224,
                       help='test resize (short side) and centre crop')
        p.add_argument('--cfg-options', nargs='+', action=DictAction)

    def with_data(p):
        p.add_argument('--data-root', default='data')
        p.add_argument('--datasets', nargs='+', default=['all'],
                       help='benchmark names, "kornblith12", "all", '
                       '"config" or "synthetic_world"')
        p.add_argument('--dataset-dir', nargs='+', action=DictAction,
                       default={}, help='NAME=FOLDER overrides')

    zs = sub.add_parser('zero-shot', help='zero-shot classification')
    common(zs)
    with_data(zs)
    zs.add_argument('--descriptions', default=None,
                    help='"wordnet" or a JSON/TSV class-text file: also '
                    'evaluate "name, description" class texts')
    zs.add_argument('--no-names', action='store_true',
                    help='skip the names-only vocabulary')
    zs.add_argument('--keep-case', action='store_true',
                    help='do not lower-case class texts')

    lp = sub.add_parser('linear-probe', help='linear probe and few-shot')
    common(lp)
    with_data(lp)
    lp.add_argument('--shots', type=int, nargs='+',
                    default=[1, 2, 4, 8, 16])
    lp.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    lp.add_argument('--no-linear', action='store_true')
    lp.add_argument('--no-few-shot', action='store_true')
    lp.add_argument('--feature', choices=['backbone', 'embedding'],
                    default='backbone')
    lp.add_argument('--cache-dir', default=None,
                    help='feature cache (default OUT_DIR/feature_cache)')
    lp.add_argument('--max-iter', type=int, default=1000)

    wf = sub.add_parser('wise-ft', help='WiSE-FT interpolation curve')
    common(wf)
    with_data(wf)
    wf.set_defaults(datasets=['config'])
    wf.add_argument('--zero-shot', default=None, metavar='CHECKPOINT',
                    help='the checkpoint fine-tuning started from (default: '
                    'the config\'s load_from, else the model the config '
                    'builds, e.g. a CLIP from its directory)')
    wf.add_argument('--alphas', type=float, nargs='+',
                    default=[0., .25, .5, .75, 1.])
    wf.add_argument('--descriptions', default=None,
                    help='as for zero-shot (benchmark datasets)')
    wf.add_argument('--no-seen', action='store_true',
                    help='skip the config\'s validation (seen classes)')

    rt = sub.add_parser('retrieval', help='image-text retrieval R@1/5/10')
    common(rt)
    rt.add_argument('--ann-file', required=True,
                    help='Karpathy split JSON (dataset_coco.json, ...)')
    rt.add_argument('--image-root', default='')
    rt.add_argument('--split', default='test')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from icar_mm.apis import init_model
    from icar_mm import evaluation as ev
    if args.task == 'wise-ft':
        from mmengine.config import Config
        from icar_mm.apis import wise_ft_curve
        cfg = Config.fromfile(args.config)
        cfg.merge_from_dict(args.cfg_options or {})
        results = wise_ft_curve(
            cfg, args.zero_shot, args.checkpoint, args.alphas,
            datasets=args.datasets, data_root=args.data_root,
            seen=not args.no_seen, image_size=args.image_size,
            descriptions=args.descriptions, dataset_dirs=args.dataset_dir,
            batch_size=args.batch_size, num_workers=args.num_workers)
        table = wise_ft_table(results)
        results['files'] = write_results(results, args.out_dir, 'wise_ft',
                                         table)
        results['files']['plot'] = plot_wise_ft(
            results, osp.join(args.out_dir, 'wise_ft.png'))
        print(table)
        return results
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    cfg = model.cfg
    if args.task == 'zero-shot':
        results = ev.evaluate_zero_shot(
            model, args.data_root, args.datasets, cfg=cfg,
            image_size=args.image_size, descriptions=args.descriptions,
            names_only=not args.no_names, dataset_dirs=args.dataset_dir,
            batch_size=args.batch_size, num_workers=args.num_workers,
            lowercase=not args.keep_case)
        print(report_zero_shot(results, args.out_dir))
    elif args.task == 'linear-probe':
        results = ev.evaluate_linear_probe(
            model, args.data_root, args.datasets, cfg=cfg,
            image_size=args.image_size, shots=args.shots, seeds=args.seeds,
            linear=not args.no_linear, few_shot=not args.no_few_shot,
            feature=args.feature,
            cache_dir=args.cache_dir or osp.join(args.out_dir,
                                                 'feature_cache'),
            dataset_dirs=args.dataset_dir, batch_size=args.batch_size,
            num_workers=args.num_workers, max_iter=args.max_iter)
        print(report_linear_probe(results, args.out_dir))
    else:
        from icar_mm.datasets.benchmarks import KarpathyRetrievalDataset
        from icar_mm.evaluation.benchmark import image_pipeline
        dataset = KarpathyRetrievalDataset(
            ann_file=args.ann_file, split=args.split,
            data_prefix=args.image_root,
            pipeline=image_pipeline(args.image_size))
        results = ev.evaluate_retrieval(model, dataset, args.batch_size)
        os.makedirs(args.out_dir, exist_ok=True)
        with open(osp.join(args.out_dir, 'retrieval.json'), 'w') as f:
            json.dump(results, f, indent=1)
        print(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
