"""The command-line tools: flags of mmpretrain 1.2.0, launchers, a CPU run."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from types import ModuleType

import pytest

from repo_paths import REPO_ROOT  # noqa: E402
TOOLS = osp.join(REPO_ROOT, 'tools')

TRAIN_FLAGS = [
    '--work-dir', '--resume', '--amp', '--no-validate', '--auto-scale-lr',
    '--no-pin-memory', '--no-persistent-workers', '--cfg-options',
    '--launcher', '--local_rank', '--local-rank'
]
TEST_FLAGS = [
    '--work-dir', '--out', '--out-item', '--cfg-options', '--amp',
    '--show-dir', '--show', '--interval', '--wait-time', '--no-pin-memory',
    '--tta', '--launcher', '--local_rank', '--local-rank'
]
SCRIPTS = [
    'install.sh', 'dist_train.sh', 'dist_test.sh', 'dist_run.sh',
    'slurm_train.sh', 'slurm_test.sh', 'slurm_run.sh'
]


def _run(args, cwd: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command with this interpreter's environment, outside the repo."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)  # the tools must find icar_mm on their own
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)


def _load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` as a module."""
    path = osp.join(TOOLS, f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'icar_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('tool,flags', [('train.py', TRAIN_FLAGS),
                                        ('test.py', TEST_FLAGS)])
def test_help_lists_flags(tool: str, flags, tmp_path) -> None:
    proc = _run([sys.executable, osp.join(TOOLS, tool), '--help'],
                cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    for flag in flags:
        assert flag in proc.stdout, f'{tool} --help lacks {flag}'


@pytest.mark.parametrize('script', SCRIPTS)
def test_shell_scripts(script: str) -> None:
    path = osp.join(TOOLS, script)
    assert osp.isfile(path)
    assert os.access(path, os.X_OK), f'{script} is not executable'
    proc = subprocess.run(['bash', '-n', path],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
def test_dist_scripts_use_torch_distributed_run(script: str) -> None:
    with open(osp.join(TOOLS, script)) as f:
        content = f.read()
    # the launch itself is the shared dist_run.sh's
    assert 'dist_run.sh" ' + script.replace('dist_', '').replace(
        '.sh', '.py') in content
    assert '--launcher pytorch' in content
    with open(osp.join(TOOLS, 'dist_run.sh')) as f:
        assert '"$PYTHON" -m torch.distributed.run' in f.read()


def test_launch_scripts_run_the_commands_of_mmpretrains(tmp_path) -> None:
    """With PYTHON=echo and an echoing srun, the command lines appear."""
    (tmp_path / 'srun').write_text('#!/bin/sh\necho srun "$@"\n')
    (tmp_path / 'srun').chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in (
        'NNODES', 'NODE_RANK', 'PORT', 'MASTER_ADDR', 'GPUS',
        'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS')}
    env.update(PYTHON='echo', PATH=f"{tmp_path}:{os.environ['PATH']}")

    def run(*args):
        out = subprocess.run(['bash', *args], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True).stdout
        return out.replace(REPO_ROOT, 'ROOT').strip()

    assert run('tools/dist_train.sh', 'c.py', '2', '--amp') == (
        '-m torch.distributed.run --nnodes=1 --node_rank=0 '
        '--master_addr=127.0.0.1 --nproc_per_node=2 --master_port=29500 '
        'ROOT/tools/train.py c.py --launcher pytorch --amp')
    assert run('tools/dist_test.sh', 'c.py', 'k.pth', '3', '--tta').endswith(
        '--nproc_per_node=3 --master_port=29500 ROOT/tools/test.py c.py '
        'k.pth --launcher pytorch --tta')
    srun = ('srun -p p --job-name=j --gres=gpu:8 --ntasks=8 '
            '--ntasks-per-node=8 --cpus-per-task=5 --kill-on-bad-exit=1 '
            'echo -u ')
    assert run('tools/slurm_train.sh', 'p', 'j', 'c.py', 'wd', '--amp') == (
        srun + 'ROOT/tools/train.py c.py --work-dir=wd --launcher=slurm '
        '--amp')
    assert run('tools/slurm_test.sh', 'p', 'j', 'c.py', 'k.pth') == (
        srun + 'ROOT/tools/test.py c.py k.pth --launcher=slurm')


def test_ci_runs_the_readme_test_command() -> None:
    command = 'bash tools/install.sh && .venv/bin/python -m pytest tests -q'
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    assert readme.startswith('```\n')
    assert command in readme.split('```')[1]
    ci = osp.join(REPO_ROOT, '.ci', 'run')
    assert os.access(ci, os.X_OK)
    with open(ci) as f:
        assert command in f.read()


def _merge(module: ModuleType, argv, cfg_dict):
    """Parse ``argv`` with a tool's parser and merge it into a config."""
    from mmengine.config import Config
    old_argv = sys.argv
    sys.argv = ['tool'] + list(argv)
    try:
        args = module.parse_args()
    finally:
        sys.argv = old_argv
    return module.merge_args(Config(cfg_dict), args)


def test_train_merge_args() -> None:
    import torch
    train = _load_tool('train')
    base = dict(
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        train_dataloader=dict(batch_size=2, num_workers=0),
        val_dataloader=dict(batch_size=2, num_workers=2),
        val_cfg=dict(),
        val_evaluator=dict(type='Accuracy'),
        auto_scale_lr=dict(base_batch_size=4))
    cfg = _merge(train, ['cfg.py', '--resume', 'x.pth', '--auto-scale-lr',
                         '--no-validate', '--work-dir', 'wd'], base)
    assert cfg.resume is True and cfg.load_from == 'x.pth'
    assert cfg.auto_scale_lr.enable is True
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.work_dir == 'wd'
    # torch refuses persistent_workers with num_workers=0
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.train_dataloader.pin_memory is True

    cfg = _merge(train, ['cfg.py', '--resume'], base)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.work_dir == osp.join('./work_dirs', 'cfg')
    assert cfg.val_dataloader.persistent_workers is True

    # a group of named dataloaders (icar_mm's two-stream train loop)
    group = dict(base, train_dataloader=dict(
        cls=dict(batch_size=2, num_workers=1, dataset=dict(type='A')),
        itc=dict(batch_size=2, num_workers=0, dataset=dict(type='B'))))
    cfg = _merge(train, ['cfg.py', '--no-pin-memory'], group)
    assert set(cfg.train_dataloader) == {'cls', 'itc'}
    assert cfg.train_dataloader.cls.persistent_workers is True
    assert cfg.train_dataloader.itc.persistent_workers is False
    assert cfg.train_dataloader.cls.pin_memory is False

    cfg = _merge(train, ['cfg.py', '--amp'], base)
    from icar_mm.utils.setup_env import (CPU_AMP_WRAPPER, has_amp_device,
                                         has_native_cpu_bf16)
    if has_amp_device():
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    else:
        # registered in icar_mm's scope, built from any config's scope
        assert cfg.optim_wrapper.type == CPU_AMP_WRAPPER
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import DefaultScope
        layer = torch.nn.Linear(2, 2)
        for scope in ('icar_mm', 'mmpretrain', 'mmengine'):
            with DefaultScope.overwrite_default_scope(scope):
                wrapper = build_optim_wrapper(layer, cfg.optim_wrapper)
            assert type(wrapper).__name__ == CPU_AMP_WRAPPER
            # bfloat16 where this CPU has it natively, else float32 (logged:
            # tests/test_engine/test_optim_wrappers.py)
            with wrapper.optim_context(layer):
                assert layer(torch.ones(1, 2)).dtype == (
                    torch.bfloat16 if has_native_cpu_bf16() else torch.float32)


def test_test_merge_args() -> None:
    test = _load_tool('test')
    cfg = _merge(test, ['cfg.py', 'ckpt.pth', '--amp'],
                 dict(test_dataloader=dict(batch_size=2), test_cfg=dict()))
    assert cfg.load_from == 'ckpt.pth'
    assert cfg.test_cfg.fp16 is True
    assert cfg.test_dataloader.pin_memory is True


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_collate_default_follows_the_host(tool) -> None:
    """mmpretrain configs batch with default_collate (as mmpretrain's
    tools do); mmdet / mmseg / mmaction2 configs keep pseudo_collate."""
    module = _load_tool(tool)
    argv = ['cfg.py'] + (['ckpt.pth'] if tool == 'test' else [])
    field = f'{tool}_dataloader'
    for scope, expected in (('mmpretrain', 'default_collate'),
                            ('icar_mm', 'default_collate'),
                            ('mmdet', None), ('mmaction', None)):
        cfg = _merge(module, argv, {
            'default_scope': scope,
            field: dict(batch_size=2, num_workers=0)})
        collate = cfg[field].get('collate_fn')
        assert (collate and collate['type']) == expected, scope


TINY_CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['icar_mm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=2,
                           mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(type='ResNet', depth=18, base_channels=8,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(type='CustomDataset', data_root='{root}', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(type='CustomDataset', data_root='{root}', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
"""


def test_train_then_test_on_cpu(tmp_path) -> None:
    """A real (tiny) train.py + test.py run, from outside the repository."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)
    root = tmp_path / 'data'
    for cls in ('a', 'b'):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(
                str(root / cls / f'{i}.png'),
                rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_CONFIG.replace('{root}', str(root)))
    work_dir = tmp_path / 'work'

    proc = _run([
        sys.executable,
        osp.join(TOOLS, 'train.py'),
        str(config), '--work-dir',
        str(work_dir), '--amp', '--no-pin-memory'
    ],
                cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-4000:]
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.is_file()

    out = tmp_path / 'metrics.json'
    proc = _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'),
        str(config),
        str(ckpt), '--work-dir',
        str(work_dir), '--out',
        str(out), '--out-item', 'metrics'
    ],
                cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-4000:]
    import json
    assert 'accuracy/top1' in json.loads(out.read_text())
