"""The paper's baselines are config switches of one model, and all train."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import icar_mm  # noqa: F401
from icar_mm.models import ICAR, CosineClsHead, TextMetaClassifier

from repo_paths import REPO_ROOT as REPO  # noqa: E402
ICAR_CFG = 'configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py'
BASELINES = {
    'linear': 'configs/icar/baselines/linear_resnet18_1xb64_synthetic-world.py',
    'cosine': 'configs/icar/baselines/cosine_resnet18_1xb64_synthetic-world.py',
    'clip': 'configs/icar/baselines/'
    'clip_resnet18-minilm_1xb64_synthetic-world.py',
    'shallow': 'configs/icar/baselines/'
    'shallow-fusion_resnet18-minilm_1xb64_synthetic-world.py',
    'icar_names': 'configs/icar/baselines/'
    'icar-names_resnet18-minilm_1xb64_synthetic-world.py',
    'icar': ICAR_CFG,
    'unicl': 'configs/icar/baselines/'
    'unicl_resnet18-minilm_1xb64_synthetic-world.py',
    'icar_sigmoid': 'configs/icar/baselines/'
    'icar-sigmoid_resnet18-minilm_1xb64_synthetic-world.py',
    'icar_separate_proj': 'configs/icar/baselines/'
    'icar-separate-proj_resnet18-minilm_1xb64_synthetic-world.py',
    'icar_detached_weights': 'configs/icar/baselines/'
    'icar-detached-weights_resnet18-minilm_1xb64_synthetic-world.py',
}
EXPECTED_LOSSES = {
    'linear': {'loss_cls'},
    'cosine': {'loss_cls'},
    'clip': {'loss_itc'},
    'shallow': {'loss_cls', 'loss_itc'},
    'icar_names': {'loss_cls', 'loss_itc'},
    'icar': {'loss_cls', 'loss_itc'},
    'unicl': {'loss_itc'},  # one loss over both batches
    'icar_sigmoid': {'loss_cls', 'loss_itc'},
    'icar_separate_proj': {'loss_cls', 'loss_itc'},
    'icar_detached_weights': {'loss_cls', 'loss_itc'},
}


def tiny(cfg: Config, work_dir: str) -> Config:
    """Shrink a synthetic-world config to a 2-iteration run."""
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    cfg.merge_from_dict({
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        'val_dataloader.dataset.num_per_class': 2,
        'val_dataloader.batch_size': 8,
    })
    for name in ('cls', 'itc'):
        if cfg.train_dataloader.get(name) is not None:
            cfg.train_dataloader[name].batch_size = 4
            cfg.train_dataloader[name].num_workers = 0
            cfg.train_dataloader[name].persistent_workers = False
            dataset = cfg.train_dataloader[name].dataset
            dataset.pop('num_per_class', None)
            dataset.pop('num_samples', None)
            if name == 'cls':
                dataset.num_per_class = 2
            else:
                dataset.num_samples = 16
    cfg.val_dataloader.num_workers = 0
    return cfg


@pytest.mark.parametrize('variant', list(BASELINES))
def test_variant_trains_and_validates(variant, tmp_path):
    cfg = tiny(Config.fromfile(osp.join(REPO, BASELINES[variant])),
               str(tmp_path))
    runner = Runner.from_cfg(cfg)
    seen = []

    def after_train_iter(runner, batch_idx, data_batch=None, outputs=None):
        seen.append({k for k in outputs if k.startswith('loss_')})

    hook = Hook()
    hook.after_train_iter = after_train_iter
    runner.register_hook(hook, priority='LOWEST')
    runner.train()
    assert seen and all(s == EXPECTED_LOSSES[variant] for s in seen)
    model = runner.model
    # the switches select the parts the paper's table describes
    has_text = variant not in ('linear', 'cosine')
    assert (model.text_encoder is not None) == has_text
    assert (model.itc_loss is not None) == (variant not in ('linear',
                                                           'cosine'))
    assert model.unified_contrastive == (variant == 'unicl')
    assert (model.cls_proj is not None) == (variant == 'icar_separate_proj')
    assert (type(model.itc_loss).__name__ == 'SigmoidContrastiveLoss') == (
        variant == 'icar_sigmoid')
    if model.text_classifier is not None:
        assert model.text_classifier.detach_class_weights == (
            variant == 'icar_detached_weights')
    if variant in ('icar', 'icar_names'):
        assert isinstance(model.cls_head, TextMetaClassifier)
        bank = model.text_classifier.class_texts
        assert bank.use_descriptions == (variant == 'icar')
        # described texts carry the meaning of the nonce names
        assert ('red triangle' in bank.class_texts[1]) == (variant == 'icar')
    if variant == 'cosine':
        assert isinstance(model.cls_head, CosineClsHead)
    assert isinstance(model, ICAR)
    metrics = runner.val_loop.run()
    if has_text:
        assert {'heldout/accuracy/top1',
                'heldout_names/accuracy/top1'} <= set(metrics)
    else:
        assert 'accuracy/top1' in metrics
    assert all(torch.isfinite(torch.tensor(float(v))) for v in
               metrics.values())
