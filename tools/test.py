# Copyright (c) OpenMMLab. All rights reserved.
# Adapted from mmpretrain 1.2.0 ``tools/test.py`` for icar_mm.
"""Test (and evaluate) a checkpoint with an mmengine config.

Same flags and behaviour as mmpretrain 1.2.0's ``tools/test.py``, plus
``import icar_mm`` first (stack fixes and registration; the repository root
is put on ``sys.path`` so this works without ``pip install -e .``). ``--amp``
sets ``test_cfg.fp16``: mmengine's test loop then autocasts to float16 on
CUDA and to bfloat16 on a CPU-only machine. As in ``tools/train.py`` (the
shared steps live in :mod:`icar_mm.utils.setup_env`): the dataloader
defaults reach each member of a group of named dataloaders,
``default_collate`` only for ``default_scope`` 'mmpretrain' or 'icar_mm',
distributed launches without CUDA run over gloo, and every missing local
input is named at once before anything heavy is built.
"""
import argparse
import os.path as osp
import sys
from copy import deepcopy

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

# stack fixes + registration of icar_mm, before mmengine imports torchvision
import icar_mm  # noqa: E402,F401
from icar_mm.utils.setup_env import (build_runner, parse_runner_args,  # noqa
                                     set_dataloader_defaults, set_work_dir,
                                     setup_launcher)
import mmengine  # noqa: E402
from mmengine.config import Config, ConfigDict  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse the command line (the flags of mmpretrain 1.2.0)."""
    parser = argparse.ArgumentParser(
        description='MMPreTrain test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', help='the file to output results.')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='To output whether metrics or predictions. '
        'Defaults to output predictions.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision test (bfloat16 on CPU)')
    parser.add_argument(
        '--show-dir',
        help='directory where the visualization images will be saved.')
    parser.add_argument(
        '--show',
        action='store_true',
        help='whether to display the prediction results in a window.')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='visualize per interval samples.')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='display time of every window. (second)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='Whether to enable the Test-Time-Aug (TTA). If the config file '
        'has `tta_pipeline` and `tta_model` fields, use them to determine the '
        'TTA transforms and how to merge the TTA results. Otherwise, use flip '
        'TTA by averaging classification score.')
    # + --no-pin-memory, --cfg-options, --launcher, --local_rank
    return parse_runner_args(parser)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the test flags into ``cfg`` (mmpretrain's order)."""
    setup_launcher(cfg, args.launcher)

    # work_dir is determined in this priority: CLI > segment in file > filename
    set_work_dir(cfg, args.work_dir, args.config)

    cfg.load_from = args.checkpoint

    # enable automatic-mixed-precision test
    if args.amp:
        if cfg.get('test_cfg', None) is None:
            cfg.test_cfg = ConfigDict()
        cfg.test_cfg.fp16 = True

    # -------------------- visualization --------------------
    if args.show or (args.show_dir is not None):
        assert 'visualization' in cfg.default_hooks, \
            'VisualizationHook is not set in the `default_hooks` field of ' \
            'config. Please set `visualization=dict(type="VisualizationHook")`'

        cfg.default_hooks.visualization.enable = True
        cfg.default_hooks.visualization.show = args.show
        cfg.default_hooks.visualization.wait_time = args.wait_time
        cfg.default_hooks.visualization.out_dir = args.show_dir
        cfg.default_hooks.visualization.interval = args.interval

    # -------------------- TTA related args --------------------
    if args.tta:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            cfg.tta_pipeline = deepcopy(test_pipeline)
            flip_tta = dict(
                type='TestTimeAug',
                transforms=[
                    [
                        dict(type='RandomFlip', prob=1.),
                        dict(type='RandomFlip', prob=0.)
                    ],
                    [test_pipeline[-1]],
                ])
            cfg.tta_pipeline[-1] = flip_tta
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline

    # ----------------- Default dataloader args -----------------
    set_dataloader_defaults(
        cfg, ('test_dataloader', ), pin_memory=not args.no_pin_memory)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    return cfg


def main() -> None:
    """Load the config, build a Runner, test the checkpoint, dump results."""
    args = parse_args()

    if args.out is None and args.out_item is not None:
        raise ValueError('Please use `--out` argument to specify the '
                         'path of the output file before using `--out-item`.')

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)

    # name every missing input, then build the runner from config
    runner = build_runner(cfg, ('model', 'test_dataloader'),
                          f'test {args.config}')

    if args.out and args.out_item in ['pred', None]:
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))

    # start testing
    metrics = runner.test()

    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
