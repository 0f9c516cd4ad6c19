"""The eval / fine-tune configs parse and name registered components."""
import os.path as osp

import pytest
from mmengine.config import Config

import icar_mm  # noqa: F401
from icar_mm.registry import HOOKS, METRICS

from repo_paths import REPO_ROOT as REPO  # noqa: E402


@pytest.mark.parametrize('path', [
    'configs/eval/icar_resnet18-minilm_synthetic-world_zero-shot-metric.py',
    'configs/eval/icar_swin-b_in22k-laion_kornblith12-zero-shot-check.py',
    'configs/finetune/icar_swin-b_in1k-ft_text-init.py',
])
def test_config_components_are_registered(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    for hook in cfg.custom_hooks:
        assert HOOKS.get(hook['type']) is not None, hook['type']
    ev = cfg.get('val_evaluator')
    if ev and ev['type'] == 'ZeroShotMetric':
        METRICS.build(ev)
    if 'finetune' in path:
        assert cfg.model.cls_head.type == 'CosineClsHead'
        assert list(cfg.train_dataloader) == ['cls']
        assert cfg.custom_hooks[-1].type == 'TextInitClassifierHook'
