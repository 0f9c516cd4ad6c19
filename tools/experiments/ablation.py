"""Does deep fusion help? iCAR vs its five baselines on the synthetic world.

Trains, with identical backbone (ResNet-18), data, schedule and seeds, the
six variants of the paper's ablation (ICAR.md section 4)::

    linear      classification only, linear head
    cosine      classification only, cosine head (parametric weights; A1)
    clip        image-text alignment only
    shallow     shallow fusion: linear head + CLIP head on one backbone
    icar_names  iCAR without descriptions (A1 + A2)
    icar        iCAR (A1 + A2 + A3)

four rows beyond the paper::

    unicl                  UniCL: class texts as pairs of one label-aware loss
    icar_sigmoid           iCAR with SigLIP's sigmoid image-text loss
    icar_separate_proj     iCAR whose classifier reads its own projection
    icar_detached_weights  iCAR whose class weights carry no gradient to
                           the text tower (only the image-text loss trains it)

and a control, ``icar_random_text``: iCAR with a randomly initialised
MiniLM-architecture text tower (same tokenizer, nothing frozen, same text
learning rate: only the initialisation differs). The whole text tower
trains in every variant (each run records that its transformer body
changed, ``text_body``, and whether the tower collapsed, every class text
one embedding, ``text_spread``: the report names such runs). Each
is evaluated (:mod:`ablation_eval`) on: seen-class top-1, zero-shot top-1
on the held-out compositions (names only; names + descriptions), linear
probe and K-shot probes (K = 1, 4) on a second task (texture x size) and
caption retrieval R@1.

Cost on the 2-core reference machine (a CPU with native bfloat16; on an
AVX2-only CPU the bfloat16 matmuls and convolutions run float32 kernels,
:class:`icar_mm.engine.BF16GemmInFloat32`, and each run records which in
``bf16_gemm``), one thread per run, 2 runs at a time, training
under bfloat16 autocast with the fused AdamW (the schedule's
``AmpOptimWrapper``; ``tools/benchmark/ablation_step.py`` measures it
against the float32 path): iCAR took 342 CPU-s for 400 iterations
(training and evaluation), the linear head 50, so about 0.83 and 0.12 CPU-s
per iteration (2746 and 359 CPU-s for the 3200 iterations of the
schedule). Resumable: a finished (variant, seed) is skipped when
its result matches the schedule and the fingerprint of its config file
(:func:`config_fingerprint`), and the runs committed in
``docs/ablation/ablation.json`` count as finished, so a fresh checkout
continues the table; a run cut short (its invocation killed) resumes from
its last checkpoint (every :data:`CHECKPOINT_INTERVAL` iterations) when it
is launched again::

    HF_HUB_OFFLINE=1 nohup .venv/bin/python tools/experiments/ablation.py \\
        --work-dir work_dirs/ablation --jobs 2 > work_dirs/ablation.log 2>&1 &

Regenerate the JSON, table, plot and README section from finished runs::

    .venv/bin/python tools/experiments/ablation.py --report-only

Each variant is a config file, ``configs/ablation/<variant>.py`` (the
schedule in ``configs/ablation/_base_/ablation_schedule.py``); a run is that
file with ``randomness.seed`` set, so ``tools/train.py
configs/ablation/icar.py --cfg-options randomness.seed=1`` trains the same
model. ``--smoke``, ``--iters`` and ``--text-tower tiny`` (CI and quick
checks, never a README row) are applied as overrides (:func:`load_cfg`).
Each (variant, seed) trains in its own process with ``torch`` limited to
``--threads`` threads; ``--jobs`` processes run at a time.
"""
import argparse
import glob
import functools
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

from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))
for _p in (REPO_ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

CONFIGS = 'configs/ablation/'
#: variant -> (config file, description), in the README's order.
VARIANTS: Dict[str, tuple] = {
    'linear': (CONFIGS + 'linear.py', 'classification only, linear head'),
    'cosine': (CONFIGS + 'cosine.py', 'classification only, cosine head'),
    'clip': (CONFIGS + 'clip.py', 'image-text alignment only (CLIP)'),
    'shallow': (CONFIGS + 'shallow.py',
                'shallow fusion (linear + CLIP heads)'),
    'icar_names': (CONFIGS + 'icar_names.py', 'iCAR without descriptions'),
    'icar': (CONFIGS + 'icar.py', 'iCAR (names + descriptions)'),
    'unicl': (CONFIGS + 'unicl.py',
              'UniCL (class texts as pairs of one contrastive loss)'),
    'icar_sigmoid': (CONFIGS + 'icar_sigmoid.py',
                     'iCAR with the sigmoid (SigLIP) image-text loss'),
    'icar_separate_proj': (CONFIGS + 'icar_separate_proj.py',
                           'iCAR, classifier on a projection of its own'),
    'icar_detached_weights': (CONFIGS + 'icar_detached_weights.py',
                              'iCAR, class weights without gradient to the '
                              'text tower'),
}
CONTROLS: Dict[str, tuple] = {
    'icar_random_text': (CONFIGS + 'icar_random_text.py',
                         'iCAR, randomly initialised text tower (control)'),
}
ALL_VARIANTS = {**VARIANTS, **CONTROLS}

#: The ablation schedule (see the README section for why): the values of
#: ``configs/ablation/_base_/ablation_schedule.py``, recorded with every
#: result (its cache key, :func:`schedule_key`).
SCHEDULE = dict(
    max_iters=3200,
    warmup_iters=40,
    batch_size=32,  # per stream
    image_size=32,
    lr=3e-3,
    # bfloat16 autocast (AmpOptimWrapper; on a CPU CPUBF16AmpOptimWrapper)
    # and AdamW(fused=True)
    precision='bf16',
    num_per_class=80,  # training images per seen class
    num_captions=4000,
    # the whole text tower trains (TextEncoder, nothing frozen); each run
    # records that its body's weights changed (result['text_body'])
    text_body='trained',
)
SMOKE_SCHEDULE = dict(SCHEDULE, max_iters=3, warmup_iters=1, batch_size=8,
                      num_per_class=4, num_captions=32)
SMOKE_EVAL_SIZES = dict(seen=2, heldout=3, task_train=8, task_test=2,
                        retrieval=24)
#: ``--text-tower tiny``: a 1-layer random BERT with the byte tokenizer,
#: for the CI smoke run only (no download, fast to build).
TINY_TEXT = dict(
    model_type='bert', hidden_size=32, num_hidden_layers=1,
    num_attention_heads=2, intermediate_size=64, vocab_size=300,
    max_position_embeddings=128, hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)


def apply_schedule(cfg, schedule: Dict) -> None:
    """Rewrite a variant's config for another schedule (``--smoke``,
    ``--iters``); with :data:`SCHEDULE` it changes nothing.

    Args:
        cfg (Config): A config of ``configs/ablation/``, changed in place.
        schedule (dict): Keys of :data:`SCHEDULE` (and ``text_tower``).
    """
    for key in ('image_size', 'text_body', 'precision'):
        if schedule[key] != SCHEDULE[key]:
            raise ValueError(f'{key}={schedule[key]!r}: write a config file '
                             'for it (configs/ablation/)')
    n, warm, lr = (schedule['max_iters'], schedule['warmup_iters'],
                   schedule['lr'])
    for name, stream in cfg.train_dataloader.items():
        if stream is None:
            continue
        stream.batch_size = schedule['batch_size']
        if name == 'cls':
            stream.dataset.num_per_class = schedule['num_per_class']
        else:
            stream.dataset.num_samples = schedule['num_captions']
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler[0].end = warm
    cfg.param_scheduler[1].update(begin=warm, end=n, eta_min=lr / 100)
    cfg.train_cfg.update(max_iters=n, val_interval=n + 1)
    cfg.default_hooks.logger.interval = max(1, n // 10)
    tower = schedule.get('text_tower', 'minilm')
    if tower not in ('minilm', 'tiny'):
        raise ValueError(f"text_tower must be 'minilm' or 'tiny', got "
                         f'{tower!r}')
    te = cfg.model.get('text_encoder')
    if tower == 'tiny' and te is not None:
        cfg.model.text_encoder = dict(type=te.type, max_length=te.max_length,
                                      config=TINY_TEXT, tokenizer='byte')


def load_cfg(variant: str, seed: int, schedule: Dict, work_dir: str):
    """The config of one (variant, seed): its file with the seed.

    Args:
        variant (str): A key of :data:`ALL_VARIANTS`.
        seed (int): Training seed (initialisation, sampling, augmentation).
        schedule (dict): Keys of :data:`SCHEDULE`; any other schedule (and
            ``text_tower='tiny'``) is applied by :func:`apply_schedule`.
        work_dir (str): The run's folder.

    Returns:
        Config: ``configs/ablation/<variant>.py``, ``randomness.seed=seed``.
    """
    from mmengine.config import Config
    if variant not in ALL_VARIANTS:
        raise KeyError(f'unknown variant {variant!r}; choose from '
                       f'{list(ALL_VARIANTS)}')
    cfg = Config.fromfile(osp.join(REPO_ROOT, ALL_VARIANTS[variant][0]))
    cfg.merge_from_dict({'randomness.seed': seed, 'work_dir': work_dir})
    if schedule != SCHEDULE:
        apply_schedule(cfg, schedule)
    return cfg


def schedule_key(schedule: Dict, eval_sizes: Dict) -> str:
    """Fingerprint of the schedule and evaluation a cached result depends
    on (the variant's own config: :func:`config_fingerprint`)."""
    text = json.dumps(dict(schedule=schedule, eval_sizes=eval_sizes,
                           version=1), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


#: the parts of a variant's config that decide what trains and is evaluated
FINGERPRINT_KEYS = ('model', 'world', 'train_dataloader', 'optim_wrapper',
                    'param_scheduler', 'train_cfg', 'randomness')


def config_fingerprint(variant: str,
                       cfg_options: Optional[Dict] = None) -> str:
    """Fingerprint of the config a run trains: ``configs/ablation/
    <variant>.py`` as it is now with ``cfg_options`` merged (its
    :data:`FINGERPRINT_KEYS` after ``_base_`` inheritance), recorded with
    every run. A cached run whose config has changed since is trained
    again; a run of a setting (``--cfg-options``) stays valid when that
    setting is written into the file (a sweep's best): the two train the
    same config.

    Args:
        variant (str): A key of :data:`ALL_VARIANTS`.
        cfg_options (dict, optional): Overrides of the file's values.

    Returns:
        str: 12 hex digits.
    """
    return _fingerprint(variant, json.dumps(cfg_options or {},
                                            sort_keys=True))


@functools.lru_cache(maxsize=None)
def _fingerprint(variant: str, cfg_options: str) -> str:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, ALL_VARIANTS[variant][0]))
    cfg.merge_from_dict(json.loads(cfg_options))
    cfg = cfg.to_dict()
    text = json.dumps({k: cfg.get(k) for k in FINGERPRINT_KEYS},
                      sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


#: iterations between the checkpoints of a run (only the last one is kept,
#: and it is removed once the run has its result): a run cut short (its
#: invocation killed) resumes from it when it is launched again
CHECKPOINT_INTERVAL = 400


def _cpu_s() -> float:
    """CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class _ResumableRun(Hook):
    """Writes into a run's checkpoints what it trains (its schedule key and
    config fingerprint, checked before a relaunch resumes from one) and the
    CPU seconds of its attempts so far, so that a resumed run's ``cpu_s``
    counts the earlier, cut-short ones.

    Args:
        identity (dict): ``key`` and ``config`` of the run.
    """

    def __init__(self, identity: Dict) -> None:
        self.identity = identity
        self.earlier_cpu_s = 0.
        self.resumed_from_iter = None

    def before_save_checkpoint(self, runner, checkpoint: Dict) -> None:
        checkpoint['meta']['ablation_run'] = self.identity
        checkpoint['meta']['ablation_cpu_s'] = self.earlier_cpu_s + _cpu_s()

    def after_load_checkpoint(self, runner, checkpoint: Dict) -> None:
        meta = checkpoint['meta']
        self.earlier_cpu_s = float(meta.get('ablation_cpu_s', 0.))
        self.resumed_from_iter = int(meta['iter'])


def _resume_checkpoint(work_dir: str, identity: Dict) -> Optional[str]:
    """Why the last checkpoint in ``work_dir`` is not this run's (None: it
    is, or there is none): an attempt of another schedule or config left
    it."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        checkpoint = f.read().strip()
    import torch
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False,
                      mmap=True).get('meta', {})
    recorded = meta.get('ablation_run')
    if recorded != identity:
        return (f'{checkpoint} was written by an attempt of {recorded} '
                f'(schedule key, config fingerprint), not {identity}')
    return None


def _remove_checkpoints(work_dir: str) -> None:
    """Delete a run's resume checkpoints."""
    for path in glob.glob(osp.join(work_dir, 'iter_*.pth')) + [
            osp.join(work_dir, 'last_checkpoint')]:
        if osp.isfile(path):
            os.remove(path)


def run_one(variant: str, seed: int, schedule: Dict, eval_sizes: Dict,
            work_dir: str, threads: int,
            cfg_options: Optional[Dict] = None,
            save_weights: bool = False,
            probe_seeds: tuple = (0, 1, 2),
            checkpoint_interval: int = CHECKPOINT_INTERVAL) -> Dict:
    """Train and evaluate one (variant, seed); write ``result.json``.

    A checkpoint is kept every ``checkpoint_interval`` iterations; if the
    run's folder holds one (an earlier attempt was cut short), training
    resumes from it (``result['resumed_from_iter']``, written to the run's
    log) and ``cpu_s`` adds the earlier attempts' CPU time.

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
        checkpoint_interval (int): Iterations between resume checkpoints.
    """
    import torch
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # not the first run of this process
            pass
    t0 = time.time()
    import icar_mm  # noqa: F401
    from mmengine.runner import Runner
    from ablation_eval import evaluate_model
    from icar_mm.utils.setup_env import CPU_AMP_WRAPPER, setup_amp
    config = config_fingerprint(variant, cfg_options)
    key = schedule_key(schedule, eval_sizes)
    cfg = load_cfg(variant, seed, schedule, work_dir)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    setup_amp(cfg, False)  # bfloat16 autocast on the CPU (logged)
    if cfg.optim_wrapper.type == CPU_AMP_WRAPPER:
        # the schedule is bfloat16 on every CPU, never a float32 fallback;
        # without native bfloat16 its matmuls run float32 kernels
        # (BF16GemmInFloat32, recorded in the result's bf16_gemm)
        cfg.optim_wrapper.allow_emulated = True
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=checkpoint_interval,
        max_keep_ckpts=1)
    identity = dict(key=key, config=config)
    stale = _resume_checkpoint(work_dir, identity)
    if stale:
        _remove_checkpoints(work_dir)
    cfg.resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    runner = Runner.from_cfg(cfg)
    if stale:
        runner.logger.warning(f'{variant} seed {seed}: not resumed, trained '
                              f'from the start: {stale}; removed.')
    progress = _ResumableRun(identity)
    runner.register_hook(progress)
    before = _text_body(runner.model)
    runner.train()
    if progress.resumed_from_iter is not None:
        runner.logger.info(
            f'{variant} seed {seed}: resumed from iteration '
            f'{progress.resumed_from_iter} (an earlier attempt was cut '
            'short)')
    t_train = time.time() - t0
    model = runner.model
    text_body = _text_body_change(before, _text_body(model))
    text_spread = _class_weight_spread(model)
    if text_spread is not None and text_spread['collapsed']:
        runner.logger.warning(
            f'{variant} seed {seed}: the text tower collapsed: the class '
            'weights it generates have a mean pairwise cosine of '
            f'{text_spread["cos_mean"]:.4f} (every text one embedding), so '
            'this run measures a failed optimisation; see its losses.')
    if save_weights:
        torch.save(model.state_dict(), osp.join(work_dir, 'model.pth'))
    out = evaluate_model(model, dict(cfg.world), eval_sizes,
                         probe_seeds=probe_seeds)
    result = dict(
        variant=variant, seed=seed, key=key, config=config,
        schedule=schedule, eval_sizes=eval_sizes, threads=threads,
        cfg_options=cfg_options or {}, text_body=text_body,
        text_spread=text_spread, bf16_gemm=bf16_gemm(runner.optim_wrapper),
        train_wall_s=t_train, wall_s=time.time() - t0,
        cpu_s=progress.earlier_cpu_s + _cpu_s(), **out)
    if progress.resumed_from_iter is not None:
        result['resumed_from_iter'] = progress.resumed_from_iter
    path = osp.join(work_dir, 'result.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(result, f, indent=1)
    os.replace(path + '.tmp', path)
    _remove_checkpoints(work_dir)
    runner.logger.info(
        'The run has its result (result.json); its resume checkpoints are '
        'removed' + ('; its weights: model.pth.' if save_weights else '.'))
    return result


def _text_body(model) -> Optional[Dict]:
    """Copies of the text tower's transformer tensors (None: no tower)."""
    encoder = getattr(model, 'text_encoder', None)
    if encoder is None:
        return None
    return {k: v.detach().clone()
            for k, v in encoder.model.state_dict().items()}


#: Mean pairwise cosine of the seen classes' weights above which a text
#: tower is collapsed (every text one embedding). Measured on that bank:
#: 1.000 for the random-tower control trained at the base learning rate,
#: 0.979 for a random MiniLM and 0.469 for the pretrained one untrained,
#: -0.04 to 0.06 for the trained iCAR, UniCL, CLIP and detached-weights
#: rows (seed 0).
COLLAPSE_COS = 0.99


def class_weight_spread(weights) -> Dict:
    """How far apart ``(C, D)`` normalised class weights are: their mean
    and largest pairwise (off-diagonal) cosine, and whether they have
    collapsed (mean above :data:`COLLAPSE_COS`)."""
    import torch
    cos = weights @ weights.t()
    off = cos[~torch.eye(len(cos), dtype=torch.bool, device=cos.device)]
    mean = float(off.mean())
    return dict(cos_mean=mean, cos_max=float(off.max()),
                collapsed=mean > COLLAPSE_COS)


def _class_weight_spread(model, bank=None) -> Optional[Dict]:
    """:func:`class_weight_spread` of the ensemble weights that a model's
    text tower generates for ``bank``: by default the seen classes'
    described texts, the bank the CLIP row's seen accuracy is scored with
    (None without a tower)."""
    import torch
    from icar_mm.class_texts import ClassTextBank
    classifier = getattr(model, 'text_classifier', None)
    if classifier is None:
        return None
    if bank is None:
        bank = ClassTextBank(
            source=dict(type='synthetic_world', split='seen'),
            templates='synthetic-world')
    was_training = model.training
    model.eval()
    with torch.no_grad():
        weights = classifier.ensemble(bank)
    model.train(was_training)
    return class_weight_spread(weights.float())


def _text_body_change(before: Optional[Dict],
                      after: Optional[Dict]) -> Optional[Dict]:
    """Whether training changed the text tower's transformer (embeddings
    and layers, not the projection), recorded with every run."""
    if before is None:
        return None
    changed = [k for k in before
               if before[k].is_floating_point()
               and not bool((before[k] == after[k]).all())]
    floats = [k for k in before if before[k].is_floating_point()]
    return dict(
        trained=len(changed) == len(floats),
        tensors_changed=len(changed), tensors=len(floats),
        max_abs_change=max(
            (float((after[k] - before[k]).abs().max()) for k in changed),
            default=0.))


#: where finished runs are committed (every ``runs`` list of a JSON report
#: there), so that a fresh checkout resumes a study instead of retraining
DOCS = osp.join(REPO_ROOT, 'docs', 'ablation')


def _matches(run: Dict, key: str, config: Optional[str]) -> bool:
    """Whether ``run`` was trained under ``key`` from the config file whose
    fingerprint is ``config`` (None: any)."""
    return run.get('key') == key and (config is None
                                      or run.get('config') == config)


def committed_result(work_dir: str, key: str,
                     config: Optional[str] = None) -> Optional[Dict]:
    """The run of ``work_dir`` (``.../VARIANT[+TAG]/seedS``) under ``key``
    (and, if given, the config fingerprint ``config``) from the reports in
    :data:`DOCS`, if one holds it."""
    name, seed = osp.basename(osp.dirname(work_dir)), osp.basename(work_dir)
    variant, _, tag = name.partition('+')
    for r in _committed_runs():
        if _matches(r, key, config) and r.get('variant') == variant \
                and f"seed{r.get('seed')}" == seed and \
                (r.get('tag') or '') == tag:
            return r
    return None


def run_dir(work_dir: str, variant: str, seed: int,
            tag: Optional[str] = None) -> str:
    """The directory of a run: ``VARIANT/seedS``, a tagged run's
    ``VARIANT+TAG/seedS``."""
    name = f'{variant}+{tag}' if tag else variant
    return osp.join(work_dir, name, f'seed{seed}')


def _committed_runs() -> List[Dict]:
    """Every run of the reports in :data:`DOCS`."""
    runs = []
    for path in sorted(glob.glob(osp.join(DOCS, '*.json'))):
        with open(path) as f:
            committed = json.load(f).get('runs')
        runs += committed if isinstance(committed, list) else []
    return runs


def tagged_twin(work_dir: str, key: str, config: str) -> Optional[Dict]:
    """A tagged run (``--tag``, e.g. a sweep's setting) of the main run of
    ``work_dir`` (``.../VARIANT/seedS``): same variant and seed, trained
    the config of fingerprint ``config`` under the schedule of ``key``. It
    is that main run once its setting is written into the config file."""
    name, seed = osp.basename(osp.dirname(work_dir)), osp.basename(work_dir)
    if '+' in name:
        return None
    paths = glob.glob(osp.join(osp.dirname(osp.dirname(work_dir)),
                               glob.escape(name) + '+*', seed,
                               'result.json'))
    runs = []
    for path in sorted(paths):
        with open(path) as f:
            runs.append(json.load(f))
        runs[-1]['finished_at'] = osp.getmtime(path)
    for r in runs + _committed_runs():
        if r.get('variant') == name and f"seed{r.get('seed')}" == seed \
                and r.get('tag') and r.get('config') == config \
                and 'schedule' in r and \
                schedule_key(r['schedule'], r['eval_sizes']) == key:
            return r
    return None


def _load_result(work_dir: str, key: str,
                 config: Optional[str] = None) -> Optional[Dict]:
    """A finished run under ``key`` (and config fingerprint ``config``, if
    given): its ``result.json`` in ``work_dir``, else the committed one
    (:func:`committed_result`), else (``config`` given) a tagged run that
    trained the same (:func:`tagged_twin`)."""
    path = osp.join(work_dir, 'result.json')
    if osp.isfile(path):
        with open(path) as f:
            result = json.load(f)
        if _matches(result, key, config):
            result['finished_at'] = osp.getmtime(path)
            return result
    return committed_result(work_dir, key, config) or (
        config and tagged_twin(work_dir, key, config)) or None


def _stale(work_dir: str, key: str, config: str) -> bool:
    """Whether ``work_dir`` holds a run of ``key`` from another version of
    its config file (it is trained again)."""
    return _load_result(work_dir, key, config) is None and \
        _load_result(work_dir, key) is not None


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


def bf16_gemm(optim_wrapper: OptimWrapper) -> Optional[str]:
    """Which kernels computed a run's bfloat16 matmuls and convolutions.

    Args:
        optim_wrapper (OptimWrapper): The run's optimizer wrapper.

    Returns:
        str or None: ``'native'`` (the device's own low-precision kernels:
        a CPU with native bfloat16, or a GPU's ``AmpOptimWrapper``),
        ``'float32'`` (float32 kernels from bfloat16 operands, rounded to
        bfloat16: :class:`icar_mm.engine.BF16GemmInFloat32`, on a CPU
        without native bfloat16), ``'torch-slow'`` (torch's bfloat16
        kernels on such a CPU) or None (no mixed precision).
    """
    from mmengine.optim import AmpOptimWrapper

    from icar_mm.engine import CPUBF16AmpOptimWrapper
    if isinstance(optim_wrapper, AmpOptimWrapper):
        return 'native'
    if not isinstance(optim_wrapper, CPUBF16AmpOptimWrapper) or \
            not optim_wrapper.autocast_enabled:
        return None
    if optim_wrapper.gemm_in_float32:
        return 'float32'
    from icar_mm.utils.setup_env import has_native_cpu_bf16
    return 'native' if has_native_cpu_bf16() else 'torch-slow'


def plan_runs(variants: List[str], seeds: List[int],
              controls: List[str]) -> List[tuple]:
    """(variant, seed) pairs, seed-major (so a cut-short run still holds
    complete seeds), in each seed the slow text variants first, then the
    controls."""
    slow_first = sorted(variants, key=lambda v: v in ('linear', 'cosine'))
    return [(v, seed) for seed in seeds for v in slow_first + controls]


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/ablation',
                        help='one folder per (variant, seed), git-ignored')
    parser.add_argument('--variants', nargs='*', default=list(VARIANTS),
                        choices=list(VARIANTS),
                        help='rows to train (none: only --controls)')
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
    if not args.variants and not args.controls:
        parser.error('nothing to train: give --variants or --controls')
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

    def dir_of(v: str, s: int) -> str:
        return run_dir(args.work_dir, v, s, args.tag)

    def config(v: str) -> str:
        return config_fingerprint(v, args.cfg_options)

    if args.run_one:
        variant, seed = args.run_one[0], int(args.run_one[1])
        result = run_one(variant, seed, schedule, sizes,
                         dir_of(variant, seed), args.threads,
                         args.cfg_options, save_weights=not args.smoke,
                         probe_seeds=(0, ) if args.smoke else (0, 1, 2))
        if args.tag:
            result['tag'] = args.tag
            result['key'] = key
            with open(osp.join(dir_of(variant, seed), 'result.json'),
                      'w') as f:
                json.dump(result, f, indent=1)
        return result
    runs = plan_runs(args.variants, args.seeds, args.controls)
    t0 = time.time()
    if not args.report_only:
        stale = [(v, s) for v, s in runs
                 if _stale(dir_of(v, s), key, config(v))]
        if stale:
            print(f'{len(stale)} finished run(s) came from an earlier '
                  'version of their config file and are trained again: '
                  + ', '.join(f'{v} seed {s}' for v, s in stale), flush=True)
        todo = [(v, s) for v, s in runs if _load_result(
            dir_of(v, s), key, config(v)) is None]
        print(f'{len(runs) - len(todo)} of {len(runs)} runs cached; '
              f'{len(todo)} to train (schedule {key}).', flush=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                   MKL_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE='1',
                   TOKENIZERS_PARALLELISM='false')

        def launch(run):
            v, s = run
            wd = dir_of(v, s)
            os.makedirs(wd, exist_ok=True)
            # another invocation may have finished or started it meanwhile
            if _load_result(wd, key, config(v)) is not None \
                    or _claimed(wd):
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
            status = 'ok' if rc == 0 else \
                f'FAILED (rc {rc}), see {wd}/run.log'
            print(f'[{time.strftime("%H:%M:%S")}] {v} seed {s}: {status}'
                  f' in {time.time() - start:.0f} s', flush=True)
            return rc

        with ThreadPoolExecutor(args.jobs) as pool:
            codes = list(pool.map(launch, todo))
        if any(codes):
            print(f'{sum(1 for c in codes if c)} run(s) failed.', flush=True)
    side = args.smoke or args.tag
    if not side:  # the README's table: every finished run, not this subset
        args.variants, args.controls = list(VARIANTS), list(CONTROLS)
        args.seeds = sorted(set(args.seeds) | {0, 1, 2})
        runs = plan_runs(args.variants, args.seeds, args.controls)
    results = [r for r in (_load_result(dir_of(v, s), key,
                                        config(v))
                           for v, s in runs) if r is not None]
    if not results:
        raise SystemExit('No finished runs to report under '
                         f'{args.work_dir} (schedule {key}).')
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    from ablation_report import write_report  # late: edits apply to reports
    out_dir = args.out_dir or (
        osp.join(args.work_dir, f"report-{args.tag or 'smoke'}") if side
        else osp.join(REPO_ROOT, 'docs', 'ablation'))
    readme = args.readme if args.readme is not None else (
        None if side else osp.join(REPO_ROOT, 'README.md'))
    report = write_report(
        results, out_dir, readme=readme or None, command=_command_line(args),
        schedule=schedule, eval_sizes=sizes,
        variants={k: ALL_VARIANTS[k][1] for k in args.variants +
                  args.controls},
        jobs=args.jobs,
        this_invocation=dict(
            wall_s=time.time() - t0,
            children_cpu_s=children.ru_utime + children.ru_stime))
    if not side and args.out_dir is None:
        from ablation_model_zoo import write_model_zoo
        write_model_zoo(report, {k: v[1] for k, v in ALL_VARIANTS.items()},
                        REPO_ROOT)
    return report


if __name__ == '__main__':
    main()
