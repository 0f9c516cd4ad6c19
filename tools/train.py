# Copyright (c) OpenMMLab. All rights reserved.
# Adapted from mmpretrain 1.2.0 ``tools/train.py`` for icar_mm.
"""Train a model from an mmengine config.

Same flags and behaviour as mmpretrain 1.2.0's ``tools/train.py``, plus
(the shared steps live in :mod:`icar_mm.utils.setup_env`):

* ``import icar_mm`` first (it applies the fixes of the pinned stack and
  registers icar_mm's modules); the repository root is put on ``sys.path`` so
  this works without ``pip install -e .``;
* ``--amp`` without CUDA/NPU/MLU/MUSA: mmengine 0.10.7's ``AmpOptimWrapper``
  asserts such a device, but mmengine's ``autocast`` supports bfloat16 on
  CPU, so a warning is printed and training runs under CPU bfloat16 autocast
  (:class:`icar_mm.engine.CPUBF16AmpOptimWrapper`; no loss scaling needed);
* ``persistent_workers`` defaults to True only for dataloaders with
  ``num_workers > 0`` (torch refuses it otherwise);
* the dataloader defaults also reach each member of a group of named
  dataloaders (the two-stream loop's ``dict(cls=..., itc=...)``);
  ``default_collate`` only for ``default_scope`` 'mmpretrain' or 'icar_mm'
  (mmdet, mmseg, mmaction2 configs keep ``pseudo_collate``);
* distributed launches without CUDA run on CPUs over gloo;
* every missing local input (data, text model, checkpoint) is named at
  once, before anything heavy is built.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

# stack fixes + registration of icar_mm, before mmengine imports torchvision
import icar_mm  # noqa: E402,F401
from icar_mm.utils.setup_env import (DATALOADERS, build_runner,  # noqa
                                     drop_idle_persistence, parse_runner_args,
                                     set_dataloader_defaults, set_resume,
                                     set_work_dir, setup_amp, setup_launcher)
from mmengine.config import Config  # noqa: E402


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
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.'
    )
    # + --no-pin-memory, --cfg-options, --launcher, --local_rank
    return parse_runner_args(parser)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the training flags into ``cfg`` (mmpretrain's order)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    setup_launcher(cfg, args.launcher)

    # work_dir is determined in this priority: CLI > segment in file > filename
    set_work_dir(cfg, args.work_dir, args.config)

    # enable automatic-mixed-precision training
    setup_amp(cfg, args.amp is True)

    # resume training (auto: from the newest readable checkpoint)
    cfg.resume_messages = set_resume(cfg, args.resume)

    # enable auto scale learning rate
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr', None) is None:
            raise ValueError(
                '--auto-scale-lr needs `auto_scale_lr = dict('
                'base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True

    # set dataloader args
    set_dataloader_defaults(
        cfg,
        DATALOADERS,
        pin_memory=not args.no_pin_memory,
        persistent_workers=not args.no_persistent_workers)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
        # `--cfg-options optim_wrapper.type=AmpOptimWrapper` on a CPU
        setup_amp(cfg, False)
    # after --cfg-options, which may have set num_workers=0
    drop_idle_persistence(cfg, DATALOADERS)

    return cfg


def main() -> None:
    """Load the config, merge the CLI into it, build a Runner and train."""
    args = parse_args()

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)

    # name every missing input, then build the runner from config
    messages = cfg.pop('resume_messages', [])
    runner = build_runner(cfg, ('model', 'train_dataloader',
                                'val_dataloader'), f'train {args.config}')
    for message in messages:  # into the work-dir log too
        runner.logger.warning(message)

    # start training
    runner.train()


if __name__ == '__main__':
    main()
