"""Aggregate ablation runs: JSON, Markdown table, bar plot, README section.

Everything here is a function of the per-run ``result.json`` files, so
``ablation.py --report-only`` regenerates the report without training.
"""
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional

import numpy as np

#: metric key -> column title, in table order.
METRICS: Dict[str, str] = {
    'seen_top1': 'seen top-1',
    'zs_names': 'zero-shot held-out (names)',
    'zs_described': 'zero-shot held-out (names + descr.)',
    'few_shot_1': 'task 2: 1-shot',
    'few_shot_4': 'task 2: 4-shot',
    'linear_probe': 'task 2: linear probe',
    'retrieval_r1': 'retrieval R@1',
}
#: The paper's numbering of the variants (ICAR.md section 4).
PAPER_NUMBER = dict(linear=1, cosine=2, clip=3, shallow=4, icar_names=5,
                    icar=6)
README_START = '<!-- ablation:start -->'
README_END = '<!-- ablation:end -->'


def aggregate(results: List[Dict]) -> Dict[str, Dict]:
    """Per variant and metric: mean, std (sample, ddof=1) and the values.

    Args:
        results (list[dict]): ``result.json`` contents (``variant``,
            ``seed``, ``metrics``).

    Returns:
        dict: ``{variant: {metric: dict(mean, std, n, values, seeds)}}``;
        a metric the variant cannot be scored on has ``mean`` None.
    """
    out: Dict[str, Dict] = {}
    for r in sorted(results, key=lambda r: (r['variant'], r['seed'])):
        per = out.setdefault(r['variant'], {})
        for m in METRICS:
            if m not in r['metrics']:
                raise KeyError(f"run {r['variant']}/seed {r['seed']} lacks "
                               f'metric {m!r}')
            entry = per.setdefault(m, dict(values=[], seeds=[]))
            v = r['metrics'][m]
            if v is not None:
                if not 0. <= v <= 100.:
                    raise ValueError(f"{r['variant']}/{r['seed']}: {m}={v} "
                                     'is not a percentage')
                entry['values'].append(float(v))
                entry['seeds'].append(r['seed'])
    for per in out.values():
        for entry in per.values():
            vals = entry['values']
            entry['n'] = len(vals)
            entry['mean'] = float(np.mean(vals)) if vals else None
            entry['std'] = float(np.std(vals, ddof=1)) if len(vals) > 1 \
                else (0. if vals else None)
    return out


def _cell(entry: Dict, best: bool = False) -> str:
    if entry['mean'] is None:
        return 'n/a'
    text = f"{entry['mean']:.1f}"
    if entry['n'] > 1:
        text += f" ± {entry['std']:.1f}"
    return f'**{text}**' if best else text


def markdown_table(summary: Dict[str, Dict],
                   variants: Dict[str, str]) -> str:
    """Rows: variants; columns: metrics (mean ± std over seeds). The best
    mean of each column among the main variants (not the controls) is
    bold."""
    main = [v for v in variants if v in summary and
            not v.startswith('icar_random')]
    best = {}
    for m in METRICS:
        means = [(summary[v][m]['mean'], v) for v in main
                 if summary[v][m]['mean'] is not None]
        if means:
            best[m] = max(means)[1]
    lines = ['| # | variant | seeds | ' + ' | '.join(METRICS.values()) +
             ' |', '|---|---|---:|' + '---:|' * len(METRICS)]
    for v, title in variants.items():
        if v not in summary:
            continue
        n = max(e['n'] for e in summary[v].values())
        idx = str(PAPER_NUMBER.get(v, 'ctrl' if v.startswith(
            'icar_random') else '+'))
        lines.append(f'| {idx} | {title} (`{v}`) | {n} | ' + ' | '.join(
            _cell(summary[v][m], best.get(m) == v) for m in METRICS) + ' |')
    return '\n'.join(lines) + '\n'


def plot_bars(summary: Dict[str, Dict], variants: Dict[str, str],
              path: str) -> str:
    """Grouped bars: one group per metric, one bar per variant, error bars
    = std over seeds (n/a metrics are left out)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = [v for v in variants if v in summary]
    fig, ax = plt.subplots(figsize=(13, 4.8))
    width = 0.8 / max(1, len(names))
    x = np.arange(len(METRICS))
    for i, v in enumerate(names):
        means = [summary[v][m]['mean'] for m in METRICS]
        stds = [summary[v][m]['std'] or 0. for m in METRICS]
        heights = [np.nan if mu is None else mu for mu in means]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, heights, width,
               yerr=[0. if mu is None else s for mu, s in zip(means, stds)],
               capsize=2, label=v, hatch='//' if v.startswith(
                   'icar_random') else None)
    ax.set_xticks(x)
    ax.set_xticklabels([t.replace(': ', ':\n').replace(' (', '\n(')
                        for t in METRICS.values()], fontsize=8)
    ax.set_ylabel('accuracy / recall (%)')
    ax.set_ylim(0, 100)
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8, ncol=4, loc='upper right')
    ax.set_title('iCAR vs baselines on the synthetic world '
                 '(mean ± std over seeds)')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _diff(summary: Dict, a: str, b: str, m: str) -> Optional[Dict]:
    """Mean difference a - b over the seeds both have, and its std."""
    if a not in summary or b not in summary:
        return None
    ea, eb = summary[a][m], summary[b][m]
    common = sorted(set(ea['seeds']) & set(eb['seeds']))
    if not common:
        return None
    da = dict(zip(ea['seeds'], ea['values']))
    db = dict(zip(eb['seeds'], eb['values']))
    d = np.array([da[s] - db[s] for s in common])
    return dict(mean=float(d.mean()),
                std=float(d.std(ddof=1)) if len(d) > 1 else 0.,
                n=len(d), wins=int((d > 0).sum()), seeds=common)


#: |difference| (points) under which an "about as good" claim holds.
EQUAL_TOLERANCE = 2.0
#: The paper's claims, as (claim, [(a, b, metric[, 'equal'])...]): a should
#: beat b (or, with 'equal', be within EQUAL_TOLERANCE of b).
CLAIMS = [
    ('Deep fusion beats classification alone on the seen classes',
     [('icar', 'linear', 'seen_top1'), ('icar', 'cosine', 'seen_top1')]),
    ('Deep fusion beats image-text alignment alone (CLIP)',
     [('icar', 'clip', 'seen_top1'), ('icar', 'clip', 'zs_described'),
      ('icar', 'clip', 'zs_names'), ('icar', 'clip', 'few_shot_4'),
      ('icar', 'clip', 'retrieval_r1')]),
    ('Deep fusion beats shallow fusion',
     [('icar', 'shallow', 'seen_top1'), ('icar', 'shallow', 'zs_described'),
      ('icar', 'shallow', 'zs_names'), ('icar', 'shallow', 'few_shot_4'),
      ('icar', 'shallow', 'retrieval_r1')]),
    ('Deep fusion transfers better (few-shot / linear probe on task 2)',
     [('icar', 'linear', 'few_shot_4'), ('icar', 'clip', 'few_shot_4'),
      ('icar', 'shallow', 'few_shot_4'), ('icar', 'linear', 'linear_probe'),
      ('icar', 'clip', 'linear_probe')]),
    ('A1: a cosine classifier is about as good as a linear one (within '
     f'{EQUAL_TOLERANCE:g} points)',
     [('cosine', 'linear', 'seen_top1', 'equal')]),
    ('A2: the text encoder as classifier generator helps (iCAR without '
     'descriptions vs cosine head + shallow fusion)',
     [('icar_names', 'cosine', 'seen_top1'),
      ('icar_names', 'shallow', 'zs_names')]),
    ('A3: descriptions help',
     [('icar', 'icar_names', 'zs_described'),
      ('icar', 'icar_names', 'seen_top1')]),
    ('UniCL: one label-aware contrastive loss over image-label and '
     'image-text pairs, vs iCAR\'s two losses',
     [('icar', 'unicl', 'seen_top1'), ('icar', 'unicl', 'zs_described'),
      ('icar', 'unicl', 'few_shot_4'), ('icar', 'unicl', 'retrieval_r1')]),
    ('SigLIP\'s sigmoid loss as iCAR\'s image-text loss, vs softmax '
     '(about as good, within '
     f'{EQUAL_TOLERANCE:g} points)',
     [('icar_sigmoid', 'icar', 'seen_top1', 'equal'),
      ('icar_sigmoid', 'icar', 'zs_described', 'equal'),
      ('icar_sigmoid', 'icar', 'retrieval_r1', 'equal')]),
    ('Retrieval deficit: a classifier on a projection of its own frees the '
     'joint space',
     [('icar_separate_proj', 'icar', 'retrieval_r1'),
      ('icar_separate_proj', 'shallow', 'retrieval_r1'),
      ('icar_separate_proj', 'icar', 'seen_top1'),
      ('icar_separate_proj', 'icar', 'zs_described')]),
    ('A2 as iCAR trains it: classification trains the text tower that '
     'generates its weights, vs weights the tower (trained by the '
     'image-text loss only) generates without that gradient',
     [('icar', 'icar_detached_weights', 'seen_top1'),
      ('icar', 'icar_detached_weights', 'zs_described'),
      ('icar', 'icar_detached_weights', 'zs_names')]),
    ('Retrieval deficit: classification\'s gradient into the shared text '
     'tower causes it (detaching the class weights restores retrieval)',
     [('icar_detached_weights', 'icar', 'retrieval_r1'),
      ('icar_detached_weights', 'shallow', 'retrieval_r1', 'equal')]),
    ('Control: the pretrained text tower matters',
     [('icar', 'icar_random_text', 'zs_described'),
      ('icar', 'icar_random_text', 'seen_top1')]),
]


def claims(summary: Dict,
           kernels: Optional[Dict[tuple, str]] = None) -> List[Dict]:
    """Each claim with its paired differences (per-seed a - b).

    Args:
        summary (dict): Per variant and metric, the values by seed.
        kernels (dict, optional): ``(variant, seed)`` -> the kernels of
            its bfloat16 matmuls (a run's ``bf16_gemm``); a comparison
            lists in ``mixed_kernels`` the seeds whose two runs differ.

    Returns:
        list[dict]: Per claim, its comparisons.
    """
    kernels = kernels or {}
    out = []
    for text, comparisons in CLAIMS:
        rows = []
        for a, b, m, *kind in comparisons:
            d = _diff(summary, a, b, m)
            if d is not None:
                mixed = [s for s in d['seeds'] if kernels.get((a, s)) !=
                         kernels.get((b, s))]
                rows.append(dict(a=a, b=b, metric=m,
                                 kind=kind[0] if kind else 'better',
                                 mixed_kernels=mixed, **d))
        if rows:
            out.append(dict(claim=text, comparisons=rows))
    return out


def verdict(row: Dict) -> str:
    """'holds', 'fails' or 'unclear' for one paired comparison.

    A difference counts when its mean is larger than its std over seeds
    and it has the same sign on every seed (with 3 seeds, a rough guide,
    not a significance test); |mean| < 1 point is 'tie'. For an "about
    as good" claim (``kind='equal'``) it holds when |mean| is at most
    :data:`EQUAL_TOLERANCE` (over 2 seeds at least).
    """
    if row.get('kind') == 'equal':
        if row['n'] < 2:
            return 'unclear'  # one seed: no verdict either way
        return 'holds' if abs(row['mean']) <= EQUAL_TOLERANCE else 'fails'
    if row['n'] > 1 and abs(row['mean']) > max(row['std'], 1.) and (
            row['wins'] in (0, row['n'])):
        return 'holds' if row['mean'] > 0 else 'fails'
    if abs(row['mean']) < 1.:
        return 'tie'
    return 'unclear'


def claims_markdown(rows: List[Dict]) -> str:
    lines = ['| claim | comparison | metric | difference (points) | '
             'seeds won | verdict |', '|---|---|---|---:|---:|---|']
    mixed = False
    for c in rows:
        for i, r in enumerate(c['comparisons']):
            mark = '†' if r.get('mixed_kernels') else ''
            mixed = mixed or bool(mark)
            lines.append(
                f"| {c['claim'] if i == 0 else ''} | `{r['a']}` − "
                f"`{r['b']}` | {METRICS[r['metric']]} | "
                f"{r['mean']:+.1f} ± {r['std']:.1f} | {r['wins']}/{r['n']}"
                f'{mark} | {verdict(r)} |')
    if mixed:
        lines += ['', '† on some seed one run of the pair computed its '
                  'bfloat16 matmuls on float32 kernels and the other on '
                  'native bfloat16 kernels (see the caption).']
    return '\n'.join(lines) + '\n'


def _wrap(text: str, width: int = 79) -> str:
    import textwrap
    return '\n'.join(textwrap.wrap(
        text, width, break_on_hyphens=False, break_long_words=False)) or text


def _hms(seconds: float) -> str:
    m = int(round(seconds / 60.))
    return f'{m // 60} h {m % 60:02d} min' if m >= 60 else f'{m} min'


def _max_concurrent(results: List[Dict]) -> Optional[int]:
    """The most runs that trained at the same time (from their end times
    and durations; None when a run lacks them)."""
    if not all('finished_at' in r for r in results):
        return None
    events = sorted([(r['finished_at'] - r['wall_s'], 1) for r in results] +
                    [(r['finished_at'], -1) for r in results])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def _span(results: List[Dict]) -> Optional[float]:
    """Wall seconds from the first run's start to the last run's end."""
    if not all('finished_at' in r for r in results):
        return None
    start = min(r['finished_at'] - r['wall_s'] for r in results)
    return float(max(r['finished_at'] for r in results) - start)


def _not_run(report: Dict) -> str:
    """Which variants have no finished run yet (the table fills run by
    run), or nothing."""
    missing = [v for v in report['variants'] if v not in report['summary']]
    if not missing:
        return ''
    return ('Not run yet under this schedule: ' +
            ', '.join(f'`{v}`' for v in missing) + '.')


def _text_body_summary(runs: List[Dict]) -> str:
    """'N of M runs with a text tower' whose transformer changed."""
    bodies = [r.get('text_body') for r in runs
              if r['metrics'].get('retrieval_r1') is not None]
    trained = sum(1 for b in bodies if b and b.get('trained'))
    collapsed = [f"`{r['variant']}` seed {r['seed']}" for r in runs
                 if (r.get('text_spread') or {}).get('collapsed')]
    return f'{trained} of {len(bodies)} runs with a text tower' + (
        '; the text tower collapsed (every class text one embedding) in '
        + ', '.join(collapsed) if collapsed else '')


def _bf16_gemm_summary(runs: List[Dict]) -> str:
    """Which kernels computed the runs' bfloat16 matmuls, by count."""
    kinds = {}
    for r in runs:
        kinds.setdefault(r.get('bf16_gemm', 'unrecorded'), []).append(r)
    text = {
        'native': 'the device\'s own bfloat16 kernels',
        'float32': 'float32 kernels from bfloat16 operands, rounded once '
                   'to bfloat16 (`BF16GemmInFloat32`, on an AVX2 CPU: '
                   'bfloat16 operands and float32 sums as in a bfloat16 '
                   'kernel; the order of the sums and subnormals may '
                   'differ from native kernels, not compared directly)',
        'torch-slow': 'torch\'s slow bfloat16 kernels of an AVX2 CPU',
        'unrecorded': 'the CPU\'s own bfloat16 kernels (trained before '
                      'runs recorded it; at 84 s per iCAR step, '
                      'benchmark 5, an AVX2 CPU\'s bfloat16 kernels could '
                      'not have trained them in their recorded CPU time)',
    }
    parts = []
    for kind in ('unrecorded', 'native', 'float32', 'torch-slow'):
        rs = kinds.get(kind, [])
        if rs:
            named = '' if kind in ('unrecorded', 'native') else ': ' + \
                ', '.join(f"`{r['variant']}` seed {r['seed']}" for r in rs)
            parts.append(f'{len(rs)} run{"s" if len(rs) != 1 else ""} on '
                         f'{text.get(kind, kind)}{named}')
    return '; '.join(parts)


def readme_section(report: Dict, table: str, claims_md: str,
                   plot_rel: str, notes: str = '',
                   analysis: str = '') -> str:
    """The README section "Does deep fusion help?" (between markers)."""
    sch = report['schedule']
    t = report['timing']
    lines = [
        README_START,
        '## Does deep fusion help?',
        '',
        '<!-- generated by tools/experiments/ablation.py from '
        'docs/ablation/ablation.json; do not edit by hand -->',
        'The paper\'s ablation at toy scale, on CPU: the six variants of '
        'the paper, UniCL, iCAR with SigLIP\'s sigmoid loss, iCAR with '
        'a classifier projection of its own and iCAR whose class weights '
        'carry no gradient to the text tower (same ResNet-18, same data, '
        'same schedule, same seeds) '
        'trained on the synthetic world and evaluated on seen-class '
        'accuracy, zero-shot accuracy on the 10 held-out compositions, '
        'K-shot and linear probes on a second task whose labels never '
        'occur in pretraining (texture × size of the object, 6 classes) '
        'and caption retrieval R@1 (500 unseen pairs, mean of both '
        'directions). Mean ± std over '
        f"{len(report['seeds'])} seed"
        f"{'s' if len(report['seeds']) != 1 else ''}"
        f" ({', '.join(map(str, report['seeds']))}); "
        f"{sch['max_iters']} iterations of {sch['batch_size']} labelled + "
        f"{sch['batch_size']} captioned {sch['image_size']} px images, "
        'AdamW lr '
        f"{sch['lr']:g}, "
        + ('bfloat16 autocast (float32 weights and evaluation; its '
           f"matmuls and convolutions: {_bf16_gemm_summary(report['runs'])}"
           '), ' if sch.get('precision') == 'bf16' else '')
        + ('the pretrained MiniLM text tower' if sch.get(
            'text_tower', 'minilm') == 'minilm' else
           f"text tower {sch['text_tower']!r} (NOT the experiment)")
        + (' with its transformer body frozen and cached and its shared '
           'projection trained (a CPU-budget deviation from the paper, '
           'where the whole text encoder trains; see below)'
           if sch.get('text_body') == 'frozen-cached' else '')
        + (' trained whole, as in the paper (embeddings and layers at the '
           'text learning rate, lr x 0.02, the projection at lr; every run '
           'records that its transformer weights changed: '
           f"{_text_body_summary(report['runs'])})"
           if sch.get('text_body') == 'trained' else '')
        + '. n/a: the variant has no text tower. The CLIP row\'s seen '
        'accuracy is zero-shot with the described seen class texts (it '
        'has no classifier); "+" rows are the rivals and investigations '
        'beyond the paper\'s six. '
        + _not_run(report),
        '',
        table.rstrip('\n'),
        '',
        f'![ablation bar plot]({plot_rel})',
        '',
    ]
    if claims_md:
        lines += [
            'The paper\'s claims, as paired per-seed differences (a claim '
            '"holds" when the difference exceeds its std and has the same '
            'sign on every seed; with 3 seeds this is a rough guide, not a '
            'test; with one seed no difference can hold):',
            '',
            claims_md.rstrip('\n'),
            '',
        ]
    if analysis:
        lines += [
            'From the saved weights, by '
            '`tools/experiments/ablation_analysis.py` (mean ± std over '
            'seeds):', ''
        ] + analysis.rstrip('\n').split('\n') + ['']
    lines = [_wrap(ln) if not ln.startswith(('|', '<', '!', '#', '`'))
             else ln for ln in lines]
    if notes:
        lines += [notes.rstrip('\n'), '']
    lines += [_wrap(
        f"Total CPU time of the {t['num_runs']} trainings + evaluations: "
        f"{_hms(t['cpu_s'])} ({t['cpu_s']:.0f} s; sum of the runs' own "
        f"`getrusage`), {t['threads']} torch thread(s) per run, "
        f"{t.get('max_concurrent') or t['jobs']} run(s) at a time at most"
        + (f"; wall time from the first run's start to the last run's end "
           f"{_hms(t['span_wall_s'])}" if t.get('span_wall_s') else '')
        + '; on a 2-core machine shared with other work.'), '']
    lines += [
        _wrap('Reproduce (resumable: finished runs are skipped), then '
              'regenerate the JSON, table, plot and this section alone:'),
        '',
        '```bash',
        report['command'],
        'python tools/experiments/ablation.py --report-only',
        '```',
        '',
        _wrap('Configs: `configs/ablation/<variant>.py`, one file per row '
              '(the schedule: `configs/ablation/_base_/ablation_schedule.py`'
              '). Files: `docs/ablation/ablation.json` (every run and '
              'metric), `docs/ablation/ablation.md`, '
              '`docs/ablation/ablation.png`.'),
        README_END,
    ]
    return '\n'.join(lines) + '\n'


def update_readme(path: str, section: str) -> None:
    """Insert or replace the marked section (before a licence section, or
    at the end)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if README_START in text and README_END in text:
        pattern = re.escape(README_START) + r'.*?' + re.escape(README_END) \
            + r'\n?'
        text = re.sub(pattern, lambda _: section, text, count=1,
                      flags=re.S)
    else:
        m = re.search(r'^## Licen[cs]e', text, flags=re.M)
        if m:
            text = text[:m.start()] + section + '\n' + text[m.start():]
        else:
            text = text.rstrip('\n') + '\n\n' + section
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def write_report(results: List[Dict],
                 out_dir: str,
                 readme: Optional[str],
                 command: str,
                 schedule: Dict,
                 eval_sizes: Dict,
                 variants: Dict[str, str],
                 this_invocation: Dict,
                 jobs: int = 1,
                 notes_file: Optional[str] = None) -> Dict:
    """Write ``ablation.json``, ``ablation.md``, ``ablation.png`` and the
    README section.

    Args:
        results (list[dict]): Finished runs.
        out_dir (str): Output folder.
        readme (str, optional): README to update; None: leave it.
        command (str): The reproduce command.
        schedule, eval_sizes (dict): The settings of the runs.
        variants (dict): ``variant -> title`` in table order.
        this_invocation (dict): ``wall_s`` and ``children_cpu_s`` of this
            call (training happens in child processes).
        jobs (int): Runs that were trained at a time.
        notes_file (str, optional): Markdown appended under the claims
            (default ``out_dir/notes.md`` when present): the closing note,
            written by a person from these numbers.

    Returns:
        dict: The report (also in ``ablation.json``) with ``files``.
    """
    if not results:
        raise ValueError('no finished runs to report')
    summary = aggregate(results)
    rows = claims(summary, {
        (r['variant'], r['seed']): r.get('bf16_gemm', 'native')
        for r in results})
    seeds = sorted({r['seed'] for r in results if r['variant'] in variants
                    and not r['variant'].startswith('icar_random')})
    threads = sorted({r.get('threads', 1) for r in results})
    report = dict(
        command=command, schedule=schedule, eval_sizes=eval_sizes,
        seeds=seeds, variants=variants, metrics=METRICS, summary=summary,
        claims=[dict(c, comparisons=[dict(r, verdict=verdict(r))
                                     for r in c['comparisons']])
                for c in rows],
        timing=dict(
            num_runs=len(results),
            cpu_s=float(sum(r['cpu_s'] for r in results)),
            train_wall_s=float(sum(r['train_wall_s'] for r in results)),
            run_wall_s=float(sum(r['wall_s'] for r in results)),
            threads=','.join(map(str, threads)),
            jobs=jobs,
            max_concurrent=_max_concurrent(results),
            span_wall_s=_span(results),
            this_invocation=this_invocation),
        runs=results)
    os.makedirs(out_dir, exist_ok=True)
    table = markdown_table(summary, variants)
    claims_md = claims_markdown(rows) if rows else ''
    files = dict(json=osp.join(out_dir, 'ablation.json'),
                 markdown=osp.join(out_dir, 'ablation.md'),
                 plot=osp.join(out_dir, 'ablation.png'))
    with open(files['json'], 'w') as f:
        json.dump(report, f, indent=1)
    with open(files['markdown'], 'w') as f:
        f.write('# Does deep fusion help? (generated)\n\n' + table + '\n' +
                claims_md)
    plot_bars(summary, variants, files['plot'])
    notes_file = notes_file or osp.join(out_dir, 'notes.md')
    notes = open(notes_file).read() if osp.isfile(notes_file) else ''
    analysis_file = osp.join(out_dir, 'analysis.md')
    analysis = open(analysis_file).read() if osp.isfile(
        analysis_file) else ''
    if analysis:
        with open(files['markdown'], 'a') as f:
            f.write('\nFrom the saved weights '
                    '(`tools/experiments/ablation_analysis.py`):\n\n' +
                    analysis)
    if readme:
        rel = osp.relpath(files['plot'], osp.dirname(osp.abspath(readme)))
        update_readme(readme, readme_section(report, table, claims_md, rel,
                                             notes, analysis))
        files['readme'] = readme
    report['files'] = files
    print(table)
    return report
