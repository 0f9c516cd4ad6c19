"""Set up icar_mm's environment: registration, the default scope, and what
``tools/train.py`` and ``tools/test.py`` do to a config before a Runner.

The tools parse their flags (those of mmpretrain 1.2.0) and call these
functions; anything else that builds a Runner from a config and command-line
style settings can call them too. mmengine is imported inside the functions:
this module is imported with :mod:`icar_mm.utils`, before the stack fixes of
:mod:`icar_mm.utils.compat` are applied.
"""
import argparse
import os
import os.path as osp
import sys
from copy import deepcopy
from typing import Callable, Optional, Sequence

#: what ``setup_amp`` switches ``AmpOptimWrapper`` to without an accelerator
#: (:class:`icar_mm.engine.CPUBF16AmpOptimWrapper`)
CPU_AMP_WRAPPER = 'CPUBF16AmpOptimWrapper'
#: the dataloaders of a config
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register icar_mm's modules and make ``'icar_mm'`` the default scope.

    A Runner sets the scope from the config's ``default_scope``; code that
    builds from configs without one (a dataset, a model in a notebook)
    calls this first, as with mmpretrain's and mmdet's function of the same
    name. mmpretrain's own classes then build their parts (a dataset's
    pipeline) in icar_mm's scope, where icar_mm's transforms and mmpretrain's
    both resolve.

    Args:
        init_default_scope (bool): Set the default scope to ``'icar_mm'``
            (with a warning when another one is current). Defaults to True.
    """
    import icar_mm.apis  # noqa: F401
    import icar_mm.datasets  # noqa: F401
    import icar_mm.engine  # noqa: F401
    import icar_mm.evaluation  # noqa: F401
    import icar_mm.models  # noqa: F401
    if init_default_scope:
        from mmengine.registry import init_default_scope as init_scope
        init_scope('icar_mm')


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[Sequence[str]] = None
                      ) -> argparse.Namespace:
    """Add the flags ``tools/train.py`` and ``tools/test.py`` share; parse.

    ``--no-pin-memory``, ``--cfg-options``, ``--launcher`` and
    ``--local_rank`` / ``--local-rank``, as in mmpretrain 1.2.0's tools;
    ``LOCAL_RANK`` is exported from the latter when it is unset.

    Args:
        parser (ArgumentParser): The tool's parser, with its own flags.
        argv (Sequence[str], optional): Defaults to ``sys.argv[1:]``.

    Returns:
        Namespace: The parsed arguments.
    """
    from mmengine.config import DictAction
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # When using PyTorch version >= 2.0.0, the `torch.distributed.launch`
    # will pass the `--local-rank` parameter to `tools/train.py` instead
    # of `--local_rank`.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def setup_launcher(cfg, launcher: str) -> None:
    """Set ``cfg.launcher``; a distributed run without CUDA uses gloo.

    Without CUDA, :func:`icar_mm.utils.cpu_distributed.
    adapt_distributed_cfg_to_cpu` switches the config to gloo and a
    device-less DDP wrapper, and ``--launcher pytorch`` starts the process
    group (mmengine's own start needs CUDA).

    Args:
        cfg (Config): The config, changed in place.
        launcher (str): The ``--launcher`` argument.
    """
    from mmengine.logging import print_log

    from .cpu_distributed import (adapt_distributed_cfg_to_cpu,
                                  init_cpu_process_group)
    cfg.launcher = launcher
    if launcher != 'none':
        if adapt_distributed_cfg_to_cpu(cfg):
            print_log('No CUDA: distributed run on CPUs over gloo.',
                      logger='current')
        init_cpu_process_group(launcher)


def set_work_dir(cfg, work_dir: Optional[str], config: str) -> None:
    """``cfg.work_dir``: ``work_dir`` (``--work-dir``), else the config's,
    else ``./work_dirs/<config file name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])


def has_amp_device() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can run here."""
    from mmengine.device import (is_cuda_available, is_mlu_available,
                                 is_musa_available, is_npu_available)
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def has_native_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 convolutions and matmuls natively.

    torch's oneDNN check (on x86: AVX-512 BW/VL/DQ); on an AVX2-only CPU
    bfloat16 autocast falls back to slow kernels (measured on an
    AVX2 AMD EPYC, one thread: an iCAR ablation training step 15x and a
    linear-head step 33x slower than float32,
    ``tools/benchmark/results/ablation_step_avx2.json``).
    """
    import torch
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # no oneDNN in this build
        return False


def setup_amp(cfg, requested: bool) -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision.

    With ``--amp`` (``requested``) the wrapper becomes ``AmpOptimWrapper``
    (dynamic loss scale), as in mmpretrain. Where no CUDA/NPU/MLU/MUSA device
    exists, an ``AmpOptimWrapper`` (requested or from the config) is replaced
    by CPU bfloat16 autocast (:data:`CPU_AMP_WRAPPER`, built in icar_mm's
    scope whatever the config's ``default_scope``), with a warning; on a
    CPU without native bfloat16 (:func:`has_native_cpu_bf16`) that wrapper
    trains in float32 and logs why.

    Args:
        cfg (Config): The config, modified in place.
        requested (bool): Whether ``--amp`` was given.
    """
    optim_wrapper = cfg.get('optim_wrapper', None)
    if optim_wrapper is None:
        if requested:
            raise ValueError('--amp needs an `optim_wrapper` in the config')
        return
    if requested:
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    if optim_wrapper.get('type') not in ('AmpOptimWrapper',
                                         'mmengine.AmpOptimWrapper'):
        return
    if has_amp_device():
        return
    print(
        'WARNING: mixed precision was requested but there is no CUDA (or '
        'NPU/MLU/MUSA) device, and mmengine\'s AmpOptimWrapper needs one. '
        'Training with bfloat16 autocast on the CPU instead '
        f'({CPU_AMP_WRAPPER}); drop --amp for float32. On a CPU without '
        'native bfloat16 that wrapper trains in float32 (its log says so).',
        file=sys.stderr,
        flush=True)
    optim_wrapper.type = CPU_AMP_WRAPPER
    optim_wrapper['_scope_'] = 'icar_mm'
    optim_wrapper.pop('use_fsdp', None)


def is_dataloader_group(loader_cfg) -> bool:
    """Whether a dataloader config is a dict of named dataloader configs.

    For example ``dict(cls=dict(dataset=...), itc=dict(dataset=...))`` of
    icar_mm's two-stream train loop, as opposed to ``dict(dataset=...)``.

    Args:
        loader_cfg: The value of ``cfg.train_dataloader`` (or val/test).

    Returns:
        bool: True for a group of dataloader configs.
    """
    if not isinstance(loader_cfg, dict) or 'dataset' in loader_cfg:
        return False
    values = [v for v in loader_cfg.values() if v is not None]
    return bool(values) and all(
        isinstance(v, dict) and 'dataset' in v for v in values)


def map_dataloaders(cfg, fields: Sequence[str], fn: Callable) -> None:
    """Replace each dataloader config ``d`` of ``fields`` by ``fn(d)``.

    A group of named dataloaders (:func:`is_dataloader_group`) is mapped
    member by member; absent (None) fields and members are left alone.
    """
    for field in fields:
        if cfg.get(field, None) is None:
            continue
        if is_dataloader_group(cfg[field]):
            for name, sub_cfg in cfg[field].items():
                if sub_cfg is not None:
                    cfg[field][name] = fn(sub_cfg)
        else:
            cfg[field] = fn(cfg[field])


def set_dataloader_defaults(cfg,
                            fields: Sequence[str],
                            pin_memory: bool = True,
                            persistent_workers: Optional[bool] = None) -> None:
    """The dataloader defaults of mmpretrain's tools.

    ``pin_memory`` and ``persistent_workers``: True sets a default the
    config may override; False forces the option off (the ``--no-*``
    flags); None (``persistent_workers`` only) leaves it to the config.
    Configs of scope 'mmpretrain' or 'icar_mm' batch with
    ``default_collate`` (as mmpretrain's tools do); mmdet, mmseg and
    mmaction2 configs keep mmengine's ``pseudo_collate``.

    Args:
        cfg (Config): The config, changed in place.
        fields (Sequence[str]): The dataloaders to set, e.g.
            ``('test_dataloader', )``.
        pin_memory (bool): See above. Defaults to True.
        persistent_workers (bool, optional): See above. Defaults to None.
    """
    from mmengine.config import ConfigDict
    from mmengine.utils import digit_version
    from mmengine.utils.dl_utils import TORCH_VERSION
    defaults = ConfigDict(pin_memory=True)
    if persistent_workers is not None:
        defaults.persistent_workers = digit_version(
            TORCH_VERSION) >= digit_version('1.8.0')
    if cfg.get('default_scope', 'mmpretrain') in ('mmpretrain', 'icar_mm'):
        defaults.collate_fn = dict(type='default_collate')

    def with_defaults(loader_cfg):
        loader = deepcopy(defaults)
        loader.update(loader_cfg)
        if not pin_memory:
            loader['pin_memory'] = False
        if persistent_workers is False:
            loader['persistent_workers'] = False
        return loader

    map_dataloaders(cfg, fields, with_defaults)


def drop_idle_persistence(cfg, fields: Sequence[str] = DATALOADERS) -> None:
    """``persistent_workers=False`` where ``num_workers`` is 0 (torch
    refuses the option there). Call it after ``--cfg-options``."""

    def without(loader_cfg):
        if loader_cfg.get('num_workers', 0) == 0:
            loader_cfg['persistent_workers'] = False
        return loader_cfg

    map_dataloaders(cfg, fields, without)


def readable_checkpoint(path: str) -> Optional[str]:
    """None if ``path`` is a complete checkpoint archive, else why not.

    torch checkpoints are zip archives: a file cut short by a killed job has
    no central directory, a damaged one fails a member's CRC.
    """
    import zipfile
    if not osp.isfile(path):
        return 'missing'
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as e:
        return f'unreadable ({e})'
    return f'damaged member {bad!r}' if bad else None


def set_resume(cfg, resume: Optional[str]) -> list:
    """``--resume`` (a checkpoint, ``'auto'`` or None) into the config.

    ``'auto'`` resumes from the newest checkpoint of the work dir that is
    readable: the one ``last_checkpoint`` names, else ``iter_N.pth`` /
    ``epoch_N.pth`` from the highest N down; unreadable ones (a job killed
    while writing) are skipped. None found: training starts afresh.

    Returns:
        list[str]: Messages about skipped checkpoints, for the run's log.
    """
    import glob
    import re
    if resume is None:
        return []
    cfg.resume = True
    if resume != 'auto':
        cfg.load_from = resume
        return []
    work_dir = cfg.work_dir
    candidates = []
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            named = f.read().strip()
        candidates.append(named if osp.isabs(named) else osp.join(
            work_dir, osp.basename(named)))
    numbered = [(int(m.group(2)), p) for p in glob.glob(
        osp.join(work_dir, '*.pth')) for m in [re.match(
            r'(iter|epoch)_(\d+)\.pth$', osp.basename(p))] if m]
    candidates += [p for _, p in sorted(numbered, reverse=True)]
    messages, seen = [], set()
    cfg.load_from = None
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        problem = readable_checkpoint(path)
        if problem is None:
            cfg.load_from = path
            break
        messages.append(f'Auto-resume skipped {path}: {problem}.')
    if cfg.load_from is None and messages:
        messages.append('Auto-resume found no readable checkpoint in '
                        f'{work_dir}: training starts from iteration 0.')
    elif messages:
        messages.append(f'Auto-resume continues from {cfg.load_from}.')
    for message in messages:
        print(f'WARNING: {message}', file=sys.stderr, flush=True)
    return messages


def build_runner(cfg, sections: Sequence[str], action: str):
    """Name every missing local input, then build the Runner.

    Args:
        cfg (Config): The merged config.
        sections (Sequence[str]): The config keys whose inputs the run
            needs (:func:`icar_mm.utils.preflight.find_missing_inputs`).
        action (str): What is being done, for the message, e.g.
            ``'train configs/x.py'``.

    Returns:
        Runner: ``Runner.from_cfg(cfg)``, or built from the ``RUNNERS``
        registry when the config sets ``runner_type``.

    Raises:
        SystemExit: When an input is missing (data, text model,
            checkpoint), before anything heavy is built.
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .preflight import find_missing_inputs
    missing = find_missing_inputs(cfg, tuple(sections))
    if missing:
        raise SystemExit(f'Cannot {action}: missing inputs\n  ' +
                         '\n  '.join(missing))
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
