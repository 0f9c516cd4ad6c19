"""Distributed training of the iCAR demo config is the global-batch training.

2 processes (gloo) with batch b each must give the losses of 1 process with
batch 2b: the sampler deals the same shuffled samples to the two ranks, the
contrastive loss is the gather-with-grad local loss, class encoding is
sharded across ranks, and DDP averages gradients. The model is made free of
batch-coupled or random layers for the check (LayerNorm ViT, no dropout, no
random flips); iterations after the first compare the updated weights.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from dist_utils import run_distributed  # noqa: E402

import icar_mm  # noqa: E402,F401
from icar_mm.utils.cpu_distributed import \
    adapt_distributed_cfg_to_cpu  # noqa: E402

from repo_paths import REPO_ROOT as REPO  # noqa: E402
DEMO = osp.join(REPO,
                'configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py')
ITERS = 3


def deterministic_cfg(work_dir: str, batch_size: int) -> Config:
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    cfg.model.backbone = dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=32,
            num_layers=1,
            num_heads=2,
            feedforward_channels=64),
        img_size=32,
        patch_size=8,
        out_type='avg_featmap',
        with_cls_token=False)
    cfg.model.neck = None
    cfg.model.feat_channels = 32
    cfg.model.embed_dim = 32
    cfg.model.text_encoder = dict(
        type='TextEncoder',
        config=dict(
            model_type='bert', vocab_size=259, hidden_size=32,
            num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=64, hidden_dropout_prob=0.,
            attention_probs_dropout_prob=0.),
        tokenizer='byte',
        max_length=24)
    cfg.model.cls_head.classifier.shard_classes = True
    cfg.merge_from_dict({
        'train_cfg.max_iters': ITERS,
        'train_cfg.val_interval': 1000,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
        'default_hooks.checkpoint.interval': 1000,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0,
                                 by_epoch=False)],
        'optim_wrapper.clip_grad': None,
    })
    for name in ('cls', 'itc'):
        loader = cfg.train_dataloader[name]
        loader.batch_size = batch_size
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.pipeline = [p for p in loader.dataset.pipeline
                                   if p['type'] != 'RandomFlip']
    cfg.train_dataloader.cls.dataset.num_per_class = 4
    cfg.train_dataloader.itc.dataset.num_samples = 64
    return cfg


class GlobalLossRecorder(Hook):
    """Every iteration's losses averaged over ranks (the global loss)."""

    def __init__(self):
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        values = torch.stack(
            [outputs['loss_cls'].detach(), outputs['loss_itc'].detach()])
        if dist.is_initialized():
            dist.all_reduce(values)
            values /= dist.get_world_size()
        self.losses.append(values.tolist())


def train(cfg: Config) -> list:
    runner = Runner.from_cfg(cfg)
    recorder = GlobalLossRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    return recorder.losses


def ddp_worker(rank, world_size, work_dir):
    import faulthandler

    # a collective mismatch would hang: fail with every thread's stack
    faulthandler.dump_traceback_later(300, exit=True)
    os.environ['LOCAL_RANK'] = str(rank)
    os.environ['RANK'] = str(rank)
    os.environ['WORLD_SIZE'] = str(world_size)
    cfg = deterministic_cfg(work_dir, batch_size=4)
    cfg.launcher = 'pytorch'
    assert adapt_distributed_cfg_to_cpu(cfg)
    return train(cfg)


def feature_cache_ddp_worker(rank, world_size, work_dir):
    """Batch 4 per rank, accumulated over 2 micro-batches of 2."""
    os.environ['LOCAL_RANK'] = str(rank)
    os.environ['RANK'] = str(rank)
    os.environ['WORLD_SIZE'] = str(world_size)
    cfg = deterministic_cfg(work_dir, batch_size=4)
    cfg.model.accum_freq = 2
    cfg.model_wrapper_cfg = dict(type='FeatureCacheDistributedDataParallel',
                                 broadcast_buffers=False)
    cfg.launcher = 'pytorch'
    assert adapt_distributed_cfg_to_cpu(cfg)
    runner = Runner.from_cfg(cfg)
    recorder = GlobalLossRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    sizes = []
    module = runner.model.module
    representations = module.representations
    module.representations = lambda inputs, samples: (sizes.append(
        {k: v.shape[0] for k, v in inputs.items()}), representations(
            inputs, samples))[1]
    runner.train()
    return recorder.losses, sizes


def plain_ddp_with_accum_freq_worker(rank, world_size, work_dir):
    os.environ['LOCAL_RANK'] = str(rank)
    os.environ['RANK'] = str(rank)
    os.environ['WORLD_SIZE'] = str(world_size)
    cfg = deterministic_cfg(work_dir, batch_size=4)
    cfg.model.accum_freq = 2
    cfg.launcher = 'pytorch'
    adapt_distributed_cfg_to_cpu(cfg)
    try:
        train(cfg)
    except ValueError as e:
        return str(e)


def test_feature_cache_accumulation_under_ddp_equals_one_process(tmp_path):
    """2 ranks x 2 micro-batches of 2 = 1 process with batch 8: the
    contrastive loss spans all 8 pairs, the gradients are averaged once."""
    torch.set_num_threads(1)
    single = train(deterministic_cfg(str(tmp_path / 'single'), 8))
    ranks = run_distributed(
        __file__, 'feature_cache_ddp_worker', world_size=2,
        args=(str(tmp_path / 'ddp'), ))
    (losses, sizes), (losses1, _) = ranks
    assert losses == losses1
    # each step: 2 cached + 2 re-encoded micro-batches of 2 per stream
    assert sizes == [{'cls': 2, 'itc': 2}] * 4 * ITERS
    for it, (a, b) in enumerate(zip(single, losses)):
        for name, x, y in zip(('loss_cls', 'loss_itc'), a, b):
            assert abs(x - y) < 1e-4 * max(1., abs(x)), (it, name, x, y)


def test_accum_freq_under_plain_ddp_is_a_clear_error(tmp_path):
    errors = run_distributed(
        __file__, 'plain_ddp_with_accum_freq_worker', world_size=2,
        args=(str(tmp_path), ))
    assert all('FeatureCacheDistributedDataParallel' in e for e in errors)


def test_two_processes_equal_one_process_with_double_batch(tmp_path):
    torch.set_num_threads(1)
    single = train(deterministic_cfg(str(tmp_path / 'single'), 8))
    ranks = run_distributed(
        __file__, 'ddp_worker', world_size=2, args=(str(tmp_path / 'ddp'), ))
    assert ranks[0] == ranks[1]
    assert len(single) == len(ranks[0]) == ITERS
    for it, (a, b) in enumerate(zip(single, ranks[0])):
        for name, x, y in zip(('loss_cls', 'loss_itc'), a, b):
            assert abs(x - y) < 1e-4 * max(1., abs(x)), (it, name, x, y)


def test_dist_train_sh_runs_two_cpu_processes(tmp_path):
    """The launcher a user runs: tools/dist_train.sh CONFIG 2 on CPUs."""
    from dist_utils import find_free_port
    env = dict(os.environ, PORT=str(find_free_port()), PYTHON=sys.executable,
               HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir',
         str(tmp_path), '--cfg-options', 'train_cfg.max_iters=2',
         'train_cfg.val_interval=2', 'val_dataloader.dataset.num_per_class=2',
         'model.backbone.base_channels=8', 'model.backbone.stem_channels=8',
         'model.feat_channels=64', 'model.cls_head.classifier.shard_classes=True',
         'train_dataloader.cls.batch_size=4', 'train_dataloader.itc.batch_size=4',
         'train_dataloader.cls.num_workers=0', 'train_dataloader.itc.num_workers=0',
         'train_dataloader.cls.dataset.num_per_class=2',
         'train_dataloader.itc.dataset.num_samples=16',
         'default_hooks.logger.interval=1'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Iter(train) [2/2]' in log and 'heldout/accuracy/top1' in log
    assert 'on CPUs over gloo' in log
    # the run's summary, printed once (by rank 0), with the logged figure
    assert log.count('Run finished: ') == 1, log[-3000:]
    logged = re.findall(r'heldout/accuracy/top1: ([0-9.]+)', log)[-1]
    shown = re.search(r'name \+ description +([0-9.]+) +'
                      r'\[heldout/accuracy/top1\]', log).group(1)
    assert float(shown) == pytest.approx(float(logged), abs=0.01)
    assert f"Checkpoint: {tmp_path / 'iter_2.pth'}" in log
    assert 'tools/evaluate.py zero-shot ' + DEMO in log
