# Copyright (c) OpenMMLab. All rights reserved.
# Adapted from mmpretrain 1.2.0 ``tools/train.py`` for icar_mm.
"""Train a model from an mmengine config.

Same flags and behaviour as mmpretrain 1.2.0's ``tools/train.py``, plus:

* ``import icar_mm`` first (it applies the fixes of the pinned stack and
  registers icar_mm's modules); the repository root is put on ``sys.path`` so
  this works without ``pip install -e .``;
* ``--amp`` without CUDA/NPU/MLU/MUSA: mmengine 0.10.7's ``AmpOptimWrapper``
  asserts such a device, but mmengine's ``autocast`` supports bfloat16 on
  CPU, so a warning is printed and training runs under CPU bfloat16 autocast
  (``CPUBF16AmpOptimWrapper`` below; bfloat16 needs no loss scaling);
* ``persistent_workers`` defaults to True only for dataloaders with
  ``num_workers > 0`` (torch refuses it otherwise).
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from contextlib import contextmanager
from copy import deepcopy
from typing import Iterator

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

# stack fixes + registration of icar_mm, before mmengine imports torchvision
import icar_mm  # noqa: E402,F401
from icar_mm.utils.cpu_distributed import (  # noqa: E402
    adapt_distributed_cfg_to_cpu, init_cpu_process_group)
from icar_mm.utils.preflight import find_missing_inputs  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.device import (is_cuda_available, is_mlu_available,  # noqa: E402
                             is_musa_available, is_npu_available)
from mmengine.optim import OptimWrapper  # noqa: E402
from mmengine.registry import OPTIM_WRAPPERS, RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.utils import digit_version  # noqa: E402
from mmengine.utils.dl_utils import TORCH_VERSION  # noqa: E402

CPU_AMP_WRAPPER = 'CPUBF16AmpOptimWrapper'


if CPU_AMP_WRAPPER not in OPTIM_WRAPPERS.module_dict:

    @OPTIM_WRAPPERS.register_module(name=CPU_AMP_WRAPPER)
    class CPUBF16AmpOptimWrapper(OptimWrapper):
        """``OptimWrapper`` whose forward runs under CPU bfloat16 autocast.

        Stands in for ``AmpOptimWrapper`` on machines without an accelerator.
        bfloat16 has float32's exponent range, so no loss scaling is needed.

        Args:
            loss_scale (Any): Ignored (accepted for ``AmpOptimWrapper``
                configs).
            dtype (str or torch.dtype, optional): Must be None or bfloat16,
                the only CPU autocast dtype mmengine supports.
            **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
        """

        def __init__(self,
                     loss_scale=None,
                     dtype=None,
                     use_fsdp: bool = False,
                     **kwargs) -> None:
            super().__init__(**kwargs)
            if dtype not in (None, 'bfloat16', torch.bfloat16):
                warnings.warn(f'CPU autocast only supports bfloat16, '
                              f'not {dtype}: using bfloat16')
            self.cast_dtype = torch.bfloat16

        @contextmanager
        def optim_context(self, model: nn.Module) -> Iterator[None]:
            """Gradient-accumulation context plus CPU bfloat16 autocast.

            Args:
                model (nn.Module): The training model.
            """
            from mmengine.runner.amp import autocast
            with super().optim_context(model), autocast(
                    device_type='cpu', dtype=self.cast_dtype):
                yield


def has_amp_device() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can run here."""
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def parse_args() -> argparse.Namespace:
    """Parse the command line (the flags of mmpretrain 1.2.0)."""
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (on a machine '
        'without CUDA: bfloat16 CPU autocast)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='whether not to evaluate the checkpoint during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='whether to auto scale the learning rate according to the '
        'actual batch size and the original batch size.')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.'
    )
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
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

    return args


def setup_amp(cfg: Config, requested: bool) -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision.

    With ``--amp`` (``requested``) the wrapper becomes ``AmpOptimWrapper``
    (dynamic loss scale), as in mmpretrain. Where no CUDA/NPU/MLU/MUSA device
    exists, an ``AmpOptimWrapper`` (requested or from the config) is replaced
    by CPU bfloat16 autocast, with a warning.

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
        f'({CPU_AMP_WRAPPER}); drop --amp for float32.',
        file=sys.stderr,
        flush=True)
    optim_wrapper.type = CPU_AMP_WRAPPER
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


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge CLI arguments to config.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): Parsed command line.

    Returns:
        Config: The updated config.
    """
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher
    if args.launcher != 'none':
        if adapt_distributed_cfg_to_cpu(cfg):
            print_log('No CUDA: distributed run on CPUs over gloo.',
                      logger='current')
        init_cpu_process_group(args.launcher)

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        # update configs according to CLI args if args.work_dir is not None
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        # use config filename as default work_dir if cfg.work_dir is None
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    # enable automatic-mixed-precision training
    setup_amp(cfg, args.amp is True)

    # resume training
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # enable auto scale learning rate
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr', None) is None:
            raise ValueError(
                '--auto-scale-lr needs `auto_scale_lr = dict('
                'base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True

    # set dataloader args
    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        persistent_workers=True,
    )
    if cfg.get('default_scope', 'mmpretrain') in ('mmpretrain', 'icar_mm'):
        # mmpretrain's tools batch with default_collate; mmdet, mmseg and
        # mmaction2 configs keep mmengine's pseudo_collate
        default_dataloader_cfg.collate_fn = dict(type='default_collate')
    if digit_version(TORCH_VERSION) < digit_version('1.8.0'):
        default_dataloader_cfg.persistent_workers = False

    def with_defaults(loader_cfg):
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(loader_cfg)
        if args.no_pin_memory:
            dataloader_cfg['pin_memory'] = False
        if args.no_persistent_workers:
            dataloader_cfg['persistent_workers'] = False
        return dataloader_cfg

    def without_idle_persistence(loader_cfg):
        # torch: "persistent_workers option needs num_workers > 0"
        if loader_cfg.get('num_workers', 0) == 0:
            loader_cfg['persistent_workers'] = False
        return loader_cfg

    def map_dataloader_cfgs(cfg, field, fn):
        if cfg.get(field, None) is None:
            return
        if is_dataloader_group(cfg[field]):
            # several named dataloaders, e.g. the two-stream loop's
            # dict(cls=<dataloader cfg>, itc=<dataloader cfg>)
            for name, sub_cfg in cfg[field].items():
                if sub_cfg is not None:
                    cfg[field][name] = fn(sub_cfg)
        else:
            cfg[field] = fn(cfg[field])

    fields = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for field in fields:
        map_dataloader_cfgs(cfg, field, with_defaults)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
        # `--cfg-options optim_wrapper.type=AmpOptimWrapper` on a CPU
        setup_amp(cfg, False)
    # after --cfg-options, which may have set num_workers=0
    for field in fields:
        map_dataloader_cfgs(cfg, field, without_idle_persistence)

    return cfg


def main() -> None:
    """Load the config, merge the CLI into it, build a Runner and train."""
    args = parse_args()

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)

    # name every missing local input (data, text model, checkpoint) at once,
    # before building anything heavy
    missing = find_missing_inputs(
        cfg, ('model', 'train_dataloader', 'val_dataloader'))
    if missing:
        raise SystemExit(f'Cannot train {args.config}: missing inputs\n  ' +
                         '\n  '.join(missing))

    # build the runner from config
    if 'runner_type' not in cfg:
        # build the default runner
        runner = Runner.from_cfg(cfg)
    else:
        # build customized runner from the registry
        # if 'runner_type' is set in the cfg
        runner = RUNNERS.build(cfg)

    # start training
    runner.train()


if __name__ == '__main__':
    main()
