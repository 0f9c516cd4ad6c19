"""Seed-0 studies around the ablation: the sweep of ``lambda`` and
``tau_cls`` and the schedule-length curve of the linear head.

``sweep``: iCAR over ``lambda`` (the contrastive loss weight) in {0.5, 1, 2}
x ``tau_cls`` in {0.03, 0.05, 0.1}, shallow fusion over ``lambda`` (it has
no ``tau_cls``) and the cosine head (iCAR's rival on the seen classes) over
``tau_cls``, seed 0, the ablation schedule; each setting is an
investigation of ``ablation.py`` (``--tag`` + ``--cfg-options``), the
setting the config file holds is the main seed-0 run (trained by
``ablation.py``, not here). The best setting of each variant is the one
with the highest mean of seen top-1 and described held-out zero-shot (the
two figures the paper's method claims; a tie goes to the higher mean of
the other figures); write it into that variant's
config file (``configs/ablation/<variant>.py``) before its 3-seed runs, so
no variant is compared at a setting that suits only another. Each run
records the fingerprint of the config it trained (file and options), so
after that edit the best setting's run and the earlier main run keep their
rows.

``curve``: the linear-head baseline trained for 400 ... 12800 iterations
(the same schedule shape, seed 0; 3200 is the main run): where it
plateaus, and so whether the ablation's length is long enough; and iCAR
and shallow fusion at 1600 iterations: whether their comparison holds on
a shorter schedule.

``lr``: the learning rate. The schedule's rate (3e-3) was chosen on the
linear head; this study holds its other rates (1e-3, the rate of the
400-iteration study, and 1e-2) at several lengths, and iCAR at 1e-3, so
that the rate is seen to suit iCAR too (``lr_probe.md``, the curve's runs
at 3e-3 beside them).

Each writes ``docs/ablation/<study>.json`` (every run, so that a fresh
checkout resumes instead of retraining: ``ablation.py`` reads committed
runs), ``.md`` and, for the curve, ``.png``::

    HF_HUB_OFFLINE=1 python tools/experiments/ablation_sweep.py sweep --jobs 2
    HF_HUB_OFFLINE=1 python tools/experiments/ablation_sweep.py curve --jobs 2
    HF_HUB_OFFLINE=1 python tools/experiments/ablation_sweep.py lr --jobs 2
    python tools/experiments/ablation_sweep.py sweep --report-only
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Tuple

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import ablation  # noqa: E402
from ablation_report import METRICS  # noqa: E402

#: variant -> {setting name: (config key, values)}; the first product of
#: the config's own values is the main run
SWEEP: Dict[str, Dict[str, Tuple[str, tuple]]] = {
    'icar': dict(
        lam=('model.itc_loss.loss_weight', (0.5, 1.0, 2.0)),
        tau=('model.cls_head.classifier.tau', (0.03, 0.05, 0.1))),
    'shallow': dict(lam=('model.itc_loss.loss_weight', (0.5, 1.0, 2.0))),
    # iCAR's rival on the seen classes (a cosine head, parametric weights):
    # compared at its own best temperature, not at iCAR's
    'cosine': dict(tau=('model.cls_head.tau', (0.03, 0.05, 0.1))),
}
#: the best setting maximises the mean of these metrics
SELECT = ('seen_top1', 'zs_described')
#: variant -> the schedule lengths of its curve (3200 is the main run):
#: the linear head, to find where it plateaus, and iCAR and shallow fusion,
#: to see whether their comparison holds on a shorter schedule
CURVES: Dict[str, Tuple[int, ...]] = {
    'linear': (400, 800, 1600, 3200, 6400, 12800),
    'shallow': (1600, 3200),
    'icar': (1600, 3200),
}
#: variant -> {learning rate: schedule lengths} of the ``lr`` study (the
#: schedule's own rate is the curve's)
LR_STUDY: Dict[str, Dict[float, Tuple[int, ...]]] = {
    'linear': {1e-3: (1600, 3200, 6400), 1e-2: (1600, 3200)},
    'icar': {1e-3: (3200, )},
}
#: the config key of the learning rate
LR_KEY = 'optim_wrapper.optimizer.lr'
#: what the curve reports of each run
CURVE_METRICS = ('seen_top1', 'zs_described', 'linear_probe',
                 'retrieval_r1')


def config_values(variant: str) -> Dict[str, float]:
    """The swept values that ``configs/ablation/<variant>.py`` holds (its
    main runs' setting)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ablation.REPO_ROOT,
                                   ablation.ALL_VARIANTS[variant][0]))
    out = {}
    for name, (key, _) in SWEEP[variant].items():
        out[name] = config_value(cfg, key)
        if out[name] is None:
            raise KeyError(f'{ablation.ALL_VARIANTS[variant][0]} has no '
                           f'{key}: the sweep of {variant} sets it')
    return out


def config_value(cfg, key: str):
    """The value at the dotted ``key`` of a config (None: it has none)."""
    node = cfg
    for part in key.split('.'):
        try:
            node = node[part]
        except (KeyError, TypeError):
            return None
    return node


def settings(variant: str) -> List[Dict]:
    """Every setting of ``variant``: ``name -> value``, the ``tag`` and
    ``cfg_options`` of its run, and whether it is the config file's own
    (``main``: its run is the main seed-0 run of ``ablation.py``)."""
    grid = [{}]
    for name, (_, values) in SWEEP[variant].items():
        grid = [dict(g, **{name: v}) for g in grid for v in values]
    own = config_values(variant)
    out = []
    for values in grid:
        # a tag holds letters, digits, - and _: 0.05 -> 0p05
        tag = '-'.join(f'{k}{v:g}'.replace('.', 'p')
                       for k, v in values.items())
        options = {SWEEP[variant][k][0]: v for k, v in values.items()}
        out.append(dict(values=values, tag=tag, cfg_options=options,
                        main=values == own))
    return out


def setting_result(variant: str, setting: Dict,
                   work_dir: str) -> Optional[Dict]:
    """The seed-0 run of a setting of :func:`settings`: its tagged run or
    the main run, whichever trained its config (when a sweep's best is
    written into the config file, the best setting's tagged run and the
    earlier main run keep their places in the report)."""
    config = ablation.config_fingerprint(variant, setting['cfg_options'])
    return _result(variant, 0, setting['tag'], setting['cfg_options'],
                   work_dir, config=config) or _result(
                       variant, 0, None, {}, work_dir, config=config)


def _invocation(variant: str, seed: int, tag: Optional[str],
                options: Dict, args, iters: Optional[int] = None
                ) -> List[str]:
    cmd = [sys.executable, osp.join(HERE, 'ablation.py'), '--variants',
           variant, '--controls', '--seeds', str(seed), '--work-dir',
           args.work_dir, '--threads', str(args.threads)]
    if iters is not None:
        cmd += ['--iters', str(iters)]
    if tag:
        cmd += ['--tag', tag]
    if options:
        cmd += ['--cfg-options'] + [f'{k}={v!r}' for k, v in options.items()]
    return cmd


def _result(variant: str, seed: int, tag: Optional[str], options: Dict,
            work_dir: str, iters: Optional[int] = None,
            config: Optional[str] = None) -> Optional[Dict]:
    """The finished run of ``tag`` (None: the main run) whose config has
    the fingerprint ``config`` (default: the file with ``options``)."""
    from ablation_eval import DEFAULT_EVAL_SIZES
    schedule = dict(ablation.SCHEDULE)
    if iters is not None:
        schedule.update(max_iters=iters, warmup_iters=max(
            1, min(schedule['warmup_iters'], iters // 10)))
    key = ablation.schedule_key(schedule, DEFAULT_EVAL_SIZES)
    if tag:
        key = ablation.schedule_key(
            dict(schedule, tag=tag, cfg_options=options), DEFAULT_EVAL_SIZES)
    return ablation._load_result(
        ablation.run_dir(work_dir, variant, seed, tag), key,
        config or ablation.config_fingerprint(variant, options))


def _curve_tag(iters: int) -> Optional[str]:
    """The tag of the curve's run of ``iters`` (None: the main run)."""
    return None if iters == ablation.SCHEDULE['max_iters'] else \
        f'iters{iters}'


def _iters(iters: int) -> Optional[int]:
    """``--iters`` of a run of ``iters`` (None: the schedule's own)."""
    return None if iters == ablation.SCHEDULE['max_iters'] else iters


def _lr_runs(variant: str) -> List[Tuple[float, int, str, Dict]]:
    """(lr, iters, tag, cfg_options) of each run of the ``lr`` study."""
    out = []
    for lr, lengths in LR_STUDY[variant].items():
        for n in lengths:
            tag = f'lr{lr:g}'.replace('.', 'p').replace('-', 'm')
            if _iters(n) is not None:
                tag += f'-iters{n}'
            out.append((lr, n, tag, {LR_KEY: lr}))
    return out


def _launch(commands: List[List[str]], jobs: int) -> None:
    """Run ``ablation.py`` invocations, ``jobs`` at a time (each trains
    one run; finished ones are skipped by ablation.py itself)."""
    def call(cmd):
        return subprocess.call(cmd, cwd=ablation.REPO_ROOT)
    with ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(call, commands))
    if any(codes):
        print(f'{sum(1 for c in codes if c)} invocation(s) failed',
              flush=True)


def _score(result: Dict) -> float:
    """The mean of the :data:`SELECT` metrics the variant has (the cosine
    head, classification only, has no zero-shot: its seen top-1)."""
    values = [result['metrics'][m] for m in SELECT
              if result['metrics'][m] is not None]
    return sum(values) / len(values)


def _rank(row: Dict) -> Tuple[float, float]:
    """A sweep row's order: its score, then (a tie, e.g. the same count of
    right images) the mean of its other metrics (transfer, retrieval)."""
    others = [v for m, v in row['metrics'].items()
              if m not in SELECT and v is not None]
    return row['score'], sum(others) / max(len(others), 1)


def sweep_report(work_dir: str) -> Dict:
    """``sweep.json`` / ``sweep.md``: every finished setting and the best
    one of each variant."""
    rows, runs, best, complete = [], [], {}, {}
    for variant in SWEEP:
        complete[variant] = True
        for s in settings(variant):
            r = setting_result(variant, s, work_dir)
            if r is None:
                complete[variant] = False
                continue
            runs.append(r)
            rows.append(dict(variant=variant, values=s['values'],
                             tag=s['tag'], main=s['main'], score=_score(r),
                             metrics=r['metrics']))
            if variant not in best or _rank(rows[-1]) > _rank(
                    best[variant]):
                best[variant] = rows[-1]
    lines = ['| variant | setting | ' + ' | '.join(
        METRICS.values()) + ' | selection score |',
        '|---|---|' + '---:|' * (len(METRICS) + 1)]
    for row in rows:
        cells = ['n/a' if row['metrics'][m] is None else
                 f"{row['metrics'][m]:.1f}" for m in METRICS]
        mark = '' if best[row['variant']] is not row else (
            ' **(best)**' if complete[row['variant']] else
            ' **(best so far)**')
        setting = ', '.join(f'{k} = {v:g}' for k, v in row['values'].items())
        lines.append(f"| `{row['variant']}` | {setting}{mark} | " +
                     ' | '.join(cells) + f" | {row['score']:.1f} |")
    report = dict(
        grid={v: {k: list(vals) for k, (_, vals) in g.items()}
              for v, g in SWEEP.items()},
        select=list(SELECT), rows=rows,
        best={v: dict(values=b['values'], tag=b['tag'], main=b['main'])
              for v, b in best.items()},
        # every setting of the variant has its run: its best is final (and
        # its config file must hold it)
        complete=complete,
        cpu_s=float(sum(r['cpu_s'] for r in runs)), runs=runs)
    _write(report, 'sweep', '# Seed-0 sweep of lambda and tau_cls '
           '(generated)\n\nSelection score: mean of ' +
           ' and '.join(SELECT) + ' (the cosine head has no zero-shot: '
           'its seen top-1); a tie goes to the higher mean of the other '
           'metrics. A variant\'s best is final once every one of its '
           'settings has run.\n\n' + '\n'.join(lines) + '\n')
    return report


def curve_report(work_dir: str) -> Dict:
    """``schedule_curve.json`` / ``.md`` / ``.png``: each curve variant's
    figures against the schedule length."""
    runs, curves = [], {}
    for variant, lengths in CURVES.items():
        for n in lengths:
            r = _result(variant, 0, _curve_tag(n), {}, work_dir, iters=n)
            if r is None:
                continue
            runs.append(r)
            curves.setdefault(variant, []).append(dict(
                iters=n, **{m: r['metrics'][m] for m in CURVE_METRICS}))
    report = dict(curves=curves, metrics=list(CURVE_METRICS),
                  cpu_s=float(sum(r['cpu_s'] for r in runs)), runs=runs)

    def cell(value):
        return 'n/a' if value is None else f'{value:.1f}'

    md = ['| variant | iterations | ' + ' | '.join(
        METRICS[m] for m in CURVE_METRICS) + ' |',
          '|---|---:|' + '---:|' * len(CURVE_METRICS)] + [
              f"| `{v}` | {p['iters']} | " + ' | '.join(
                  cell(p[m]) for m in CURVE_METRICS) + ' |'
              for v, points in curves.items() for p in points]
    _write(report, 'schedule_curve',
           '# Figures against the schedule length, seed 0 (generated)\n\n'
           + '\n'.join(md) + '\n')
    if curves:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for variant, points in curves.items():
            line, = ax.plot([p['iters'] for p in points],
                            [p['seen_top1'] for p in points], marker='o',
                            label=f'{variant}: seen top-1')
            if points[0]['zs_described'] is not None:
                ax.plot([p['iters'] for p in points],
                        [p['zs_described'] for p in points], marker='s',
                        linestyle='--', color=line.get_color(),
                        label=f'{variant}: zero-shot (described)')
        ax.set_xscale('log', base=2)
        ax.set_xlabel('iterations (32 + 32 images each)')
        ax.set_ylabel('%')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(osp.join(ablation.DOCS, 'schedule_curve.png'), dpi=110)
        plt.close(fig)
    return report


def lr_report(work_dir: str) -> Dict:
    """``lr_probe.json`` / ``.md``: the ``lr`` study's runs beside the
    runs of the schedule's own rate (curve and main runs) at the same
    lengths."""
    rows, runs = [], []
    own = ablation.SCHEDULE['lr']
    for variant in LR_STUDY:
        lengths = sorted({n for ns in LR_STUDY[variant].values()
                          for n in ns})
        points = [(own, n, _curve_tag(n), {}) for n in lengths
                  if n in CURVES.get(variant, ()) or _iters(n) is None]
        for lr, n, tag, options in points + _lr_runs(variant):
            r = _result(variant, 0, tag, options, work_dir, iters=_iters(n))
            if r is None:
                continue
            if options:
                runs.append(r)
            rows.append(dict(variant=variant, lr=lr, iters=n,
                             **{m: r['metrics'][m] for m in CURVE_METRICS}))
    rows.sort(key=lambda r: (list(LR_STUDY).index(r['variant']), r['lr'],
                             r['iters']))

    def cell(value):
        return 'n/a' if value is None else f'{value:.1f}'

    md = ['| variant | lr | iterations | ' + ' | '.join(
        METRICS[m] for m in CURVE_METRICS) + ' |',
          '|---|---:|---:|' + '---:|' * len(CURVE_METRICS)] + [
              f"| `{r['variant']}` | {r['lr']:g}"
              f"{' (schedule)' if r['lr'] == own else ''} | {r['iters']} | "
              + ' | '.join(cell(r[m]) for m in CURVE_METRICS) + ' |'
              for r in rows]
    report = dict(study={v: {f'{lr:g}': list(ns) for lr, ns in g.items()}
                         for v, g in LR_STUDY.items()},
                  schedule_lr=own, rows=rows, metrics=list(CURVE_METRICS),
                  cpu_s=float(sum(r['cpu_s'] for r in runs)), runs=runs)
    _write(report, 'lr_probe', '# Learning rate of the schedule, seed 0 '
           '(generated)\n\n' + '\n'.join(md) + '\n')
    return report


def _write(report: Dict, name: str, markdown: str) -> None:
    with open(osp.join(ablation.DOCS, f'{name}.json'), 'w') as f:
        json.dump(report, f, indent=1)
    with open(osp.join(ablation.DOCS, f'{name}.md'), 'w') as f:
        f.write(markdown)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('study', choices=['sweep', 'curve', 'lr'])
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--jobs', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--report-only', action='store_true')
    parser.add_argument('--variants', nargs='+',
                        help='train only these variants of the study '
                        '(default: all); the report covers every one')
    args = parser.parse_args(argv)
    study = dict(sweep=SWEEP, curve=CURVES, lr=LR_STUDY)[args.study]
    unknown = sorted(set(args.variants or ()) - set(study))
    if unknown:
        parser.error(f'{args.study} has no variant {unknown}; choose from '
                     f'{list(study)}')
    variants = args.variants or list(study)
    # the main runs (no tag) are ablation.py's own: never launched here
    if args.study == 'sweep':
        commands = [_invocation(v, 0, s['tag'], s['cfg_options'], args)
                    for v in variants for s in settings(v)
                    if not s['main'] and setting_result(
                        v, s, args.work_dir) is None]
    elif args.study == 'curve':
        commands = [_invocation(v, 0, _curve_tag(n), {}, args, iters=n)
                    for v in variants for n in CURVES[v] if _curve_tag(n)]
    else:
        commands = [_invocation(v, 0, tag, options, args, iters=_iters(n))
                    for v in variants for _, n, tag, options in _lr_runs(v)]
    if not args.report_only:
        _launch(commands, args.jobs)
    return dict(sweep=sweep_report, curve=curve_report,
                lr=lr_report)[args.study](args.work_dir)


if __name__ == '__main__':
    main()
