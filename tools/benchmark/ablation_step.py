"""Training-iteration time of the ablation's variants: float32 vs bfloat16.

The ablation (``tools/experiments/ablation.py``) trains every row with the
whole MiniLM text tower, which makes a text run about six times as costly
as the linear head. Its schedule now trains under bfloat16 autocast with
the fused AdamW (``configs/ablation/_base_/ablation_schedule.py``:
``AmpOptimWrapper``, which ``setup_amp`` turns into CPU bfloat16 autocast
where there is no GPU). This measures both paths on the same configs, in
one run:

* ``fp32``: the previous path, float32 ``OptimWrapper`` and
  ``torch.optim.AdamW`` with its defaults (on the CPU: the for-loop
  implementation);
* ``bf16``: the schedule's path, ``CPUBF16AmpOptimWrapper`` and
  ``AdamW(fused=True)``; on a CPU without native bfloat16 its matmuls and
  convolutions run float32 kernels (``BF16GemmInFloat32``);
* ``bf16_torch_gemm``: the same with torch's bfloat16 kernels, the path
  before ``BF16GemmInFloat32`` on such a CPU (elsewhere the same as
  ``bf16``; not run by default).

Each (variant, path) trains ``--warmup + --steps`` iterations of its
config file (``configs/ablation/<variant>.py``, the ablation's batch) in a
fresh process with ``--threads`` torch threads; the median iteration time
after the warm-up is kept, and the median over ``--rounds`` rounds, run
round-robin so that load on a shared machine hits every path alike.
Every path starts from the same seed and batches, so the losses of the
first round's iterations are compared step by step (``losses``: the
largest absolute difference); accuracy at the end of training is compared
by the ablation itself (same seed, 400 iterations).

    python tools/benchmark/ablation_step.py \\
        --json tools/benchmark/results/ablation_step.json
"""
import argparse
import json
import os.path as osp
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import (REPO, machine, parse_or_work, peak_rss_mb,  # noqa
                         reset_peak_rss, run_worker, write_report)

#: what each path changes in a variant's config
PATHS = {
    'fp32': dict(type='OptimWrapper', optimizer_fused=None),
    'bf16': dict(type='CPUBF16AmpOptimWrapper', optimizer_fused=True),
    # on a CPU without native bfloat16: torch's bfloat16 kernels (the path
    # before BF16GemmInFloat32); elsewhere the same as 'bf16'
    'bf16_torch_gemm': dict(type='CPUBF16AmpOptimWrapper',
                            optimizer_fused=True, gemm_in_float32=False),
}


def _worker(args) -> dict:
    import time

    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    sys.path.insert(0, REPO)
    sys.path.insert(0, osp.join(REPO, 'tools', 'experiments'))
    import icar_mm  # noqa: F401
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import ablation
    iters = args.warmup + args.steps
    schedule = dict(ablation.SCHEDULE, max_iters=iters, warmup_iters=1)
    cfg = ablation.load_cfg(args.variant, 0, schedule,
                            osp.join(REPO, 'work_dirs', 'benchmark_ablation',
                                     f'{args.variant}_{args.path}'))
    path = PATHS[args.path]
    wrapper = cfg.optim_wrapper
    wrapper.type = path['type']
    wrapper.pop('dtype', None)
    wrapper.pop('loss_scale', None)
    if path['type'] != 'OptimWrapper':
        wrapper['_scope_'] = 'icar_mm'
        # bfloat16 even on a CPU without it natively: that cost is measured
        wrapper['allow_emulated'] = True
        wrapper['gemm_in_float32'] = path.get('gemm_in_float32', True)
    wrapper.optimizer.pop('fused', None)
    if path['optimizer_fused'] is not None:
        wrapper.optimizer.fused = path['optimizer_fused']
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger.interval = iters + 1
    times, losses = [], []

    class IterationTimer(Hook):

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self.start = time.perf_counter()
            if batch_idx == args.warmup:
                reset_peak_rss()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            times.append(time.perf_counter() - self.start)
            losses.append(float(outputs['loss']))

    runner = Runner.from_cfg(cfg)
    runner.register_hook(IterationTimer(), priority='VERY_LOW')
    runner.train()
    measured = times[args.warmup:]
    return dict(seconds=statistics.median(measured), peak_mb=peak_rss_mb(),
                losses=losses,
                wrapper=type(runner.optim_wrapper).__name__,
                autocast=getattr(runner.optim_wrapper, 'autocast_enabled',
                                 False),
                gemm_in_float32=getattr(runner.optim_wrapper,
                                        'gemm_in_float32', False),
                fused=bool(runner.optim_wrapper.optimizer.defaults.get(
                    'fused')))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--variants', nargs='+',
                        default=['linear', 'clip', 'shallow', 'icar'])
    parser.add_argument('--paths', nargs='+', default=['fp32', 'bf16'],
                        choices=list(PATHS))
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (the ablation trains with 1)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=12)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--variant', help=argparse.SUPPRESS)
    parser.add_argument('--path', help=argparse.SUPPRESS)
    args = parse_or_work(parser, _worker)
    if args is None:
        return
    sys.path.insert(0, osp.join(REPO, 'tools', 'experiments'))
    import ablation
    unknown = sorted(set(args.variants) - set(ablation.ALL_VARIANTS))
    if unknown:
        parser.error(f'unknown variants {unknown}; choose from '
                     f'{list(ablation.ALL_VARIANTS)}')
    info = machine()
    runs = {(v, p): [] for v in args.variants for p in args.paths}
    common = [f'--threads={args.threads}', f'--warmup={args.warmup}',
              f'--steps={args.steps}']
    for _ in range(args.rounds):
        for v, p in runs:
            runs[(v, p)].append(json.loads(run_worker(
                __file__, common + [f'--variant={v}', f'--path={p}'])))
    results, ratios = {}, {}
    for (v, p), rs in runs.items():
        results[f'{v}/{p}'] = dict(
            step_seconds=statistics.median(r['seconds'] for r in rs),
            peak_mb=max(r['peak_mb'] for r in rs), wrapper=rs[-1]['wrapper'],
            fused=rs[-1]['fused'], rounds=rs)
    losses = {}
    for v in args.variants:
        new = results.get(f'{v}/bf16')
        for base in ('fp32', 'bf16_torch_gemm'):
            old = results.get(f'{v}/{base}')
            if not (new and old):
                continue
            ratios[f'{v}/bf16_vs_{base}_speed'] = (old['step_seconds'] /
                                                   new['step_seconds'])
            ratios[f'{v}/bf16_vs_{base}_memory'] = (new['peak_mb'] /
                                                    old['peak_mb'])
            # same seed and data: the first round's losses, step by step
            losses[f'{v}/bf16_vs_{base}_max_abs_loss_diff'] = max(
                abs(a - b) for a, b in zip(new['rounds'][0]['losses'],
                                           old['rounds'][0]['losses']))
    report = dict(
        machine=info,
        setup=dict(batch_size=ablation.SCHEDULE['batch_size'],
                   image_size=ablation.SCHEDULE['image_size'],
                   text_tower='all-MiniLM-L6-v2, trained whole',
                   threads=args.threads, warmup=args.warmup,
                   steps=args.steps, rounds=args.rounds, paths=PATHS),
        results=results, ratios=ratios, losses=losses)
    for name, r in results.items():
        print(f'{name:16s} {r["step_seconds"]:.3f} s/iteration  '
              f'peak {r["peak_mb"]:.0f} MB  ({r["wrapper"]}, '
              f'fused AdamW: {r["fused"]})')
    for name, value in ratios.items():
        print(f'{name}: {value:.2f}x')
    for name, value in losses.items():
        print(f'{name}: {value:.2e}')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
