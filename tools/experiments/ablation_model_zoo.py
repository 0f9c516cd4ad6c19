"""``configs/ablation/metafile.yml`` and the results table of
``configs/ablation/README.md``, generated from an ablation report (the mean
over the seeds of each metric, rounded to 0.1), so that the model zoo shows
the figures of ``docs/ablation/ablation.json`` and nothing else."""
import os.path as osp
import re
from typing import Dict, List

from ablation_report import METRICS, _cell

FAMILY = 'configs/ablation'
TABLE_START = '<!-- ablation-results:start -->'
TABLE_END = '<!-- ablation-results:end -->'
#: metric -> (Task, Dataset, metric name) in the model-index format
RESULTS = {
    'seen_top1': ('Image Classification', 'Synthetic World (26 seen classes)',
                  'Top 1 Accuracy'),
    'zs_names': ('Zero-shot Image Classification',
                 'Synthetic World (10 held-out classes)',
                 'Top 1 Accuracy (names)'),
    'zs_described': ('Zero-shot Image Classification',
                     'Synthetic World (10 held-out classes)',
                     'Top 1 Accuracy (names + descriptions)'),
    'few_shot_1': ('Few-shot Image Classification',
                   'Synthetic World task 2 (texture x size, 6 classes)',
                   '1-shot Top 1 Accuracy'),
    'few_shot_4': ('Few-shot Image Classification',
                   'Synthetic World task 2 (texture x size, 6 classes)',
                   '4-shot Top 1 Accuracy'),
    'linear_probe': ('Linear Probe',
                     'Synthetic World task 2 (texture x size, 6 classes)',
                     'Top 1 Accuracy'),
    'retrieval_r1': ('Image-Text Retrieval', 'Synthetic World (500 unseen '
                     'pairs)', 'Recall@1 (mean of both directions)'),
}


def metafile(report: Dict, variants: Dict[str, str]) -> str:
    """The metafile text: one model per variant, ``Results: null`` for a
    variant without finished runs."""
    sch, summary = report['schedule'], report['summary']
    lines = [
        '# Generated from docs/ablation/ablation.json by '
        'tools/experiments/ablation.py (the mean over the seeds of',
        '# each metric, rounded to 0.1); tests/test_configs/'
        'test_model_index.py', '# checks that the two agree.',
        'Collections:', '  - Name: iCAR Ablation', '    Metadata:',
        '      Training Data: Synthetic World',
        '      Training Resources: 1x CPU',
        f"      Iterations: {sch['max_iters']}",
        f"      Batch Size: {sch['batch_size']} labelled + "
        f"{sch['batch_size']} captioned", '    Paper:',
        "      Title: 'iCAR: Bridging Image Classification and Image-text "
        "Alignment for Visual Recognition'",
        '      URL: https://arxiv.org/abs/2204.10760',
        f'    README: {FAMILY}/README.md', '', 'Models:'
    ]
    for v, title in variants.items():
        per = summary.get(v)
        seeds = max((e['n'] for e in per.values()), default=0) if per else 0
        lines += [f'  - Name: ablation_{v}', '    Metadata:',
                  f'      Variant: {title}',
                  '      Training Data: Synthetic World',
                  f"      Iterations: {sch['max_iters']}",
                  f'      Seeds: {seeds}', '    In Collection: iCAR Ablation']
        tasks: List[tuple] = []
        for m, (task, dataset, name) in RESULTS.items():
            if per and per[m]['n']:
                if not tasks or tasks[-1][:2] != (task, dataset):
                    tasks.append((task, dataset, []))
                tasks[-1][2].append(f"{name}: {round(per[m]['mean'], 1)}")
        if not tasks:
            lines.append('    Results: null')
        else:
            lines.append('    Results:')
            for task, dataset, metrics in tasks:
                lines += [f'      - Task: {task}',
                          f'        Dataset: {dataset}',
                          '        Metrics:'] + [
                              f'          {m}' for m in metrics]
        lines.append(f'    Config: {FAMILY}/{v}.py')
    return '\n'.join(lines) + '\n'


def results_table(report: Dict, variants: Dict[str, str]) -> str:
    """The README's table: one row per variant (``not run yet`` for a
    variant without finished runs)."""
    summary = report['summary']
    cols = ' | '.join(t[0].upper() + t[1:] for t in METRICS.values())
    lines = [f'| Model | Variant | Seeds | {cols} | Config | Download |',
             '| :---- | :------ | :---: | ' + ' | '.join(
                 ':' + '-' * max(3, len(t) - 2) + ':'
                 for t in METRICS.values()) + ' | :----: | :------: |']
    for v, title in variants.items():
        per = summary.get(v)
        if per:
            seeds = max(e['n'] for e in per.values())
            cells = ' | '.join(_cell(per[m]) for m in METRICS)
        else:
            seeds, cells = 0, ' | '.join('not run yet' for _ in METRICS)
        lines.append(f'| `ablation_{v}` | {title} | {seeds} | {cells} | '
                     f'[config]({v}.py) | not released |')
    return '\n'.join(lines) + '\n'


def write_model_zoo(report: Dict, variants: Dict[str, str],
                    repo_root: str) -> None:
    """Rewrite the family's metafile and the marked table of its README."""
    with open(osp.join(repo_root, FAMILY, 'metafile.yml'), 'w') as f:
        f.write(metafile(report, variants))
    path = osp.join(repo_root, FAMILY, 'README.md')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if TABLE_START not in text or TABLE_END not in text:
        raise ValueError(f'{path} lacks the markers {TABLE_START} ... '
                         f'{TABLE_END} around its results table')
    text = re.sub(
        re.escape(TABLE_START) + '.*?' + re.escape(TABLE_END),
        lambda _: TABLE_START + '\n' + results_table(report, variants) +
        TABLE_END, text, count=1, flags=re.S)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
