"""Result files: JSON, a Markdown table, and plots beside them."""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional

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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
