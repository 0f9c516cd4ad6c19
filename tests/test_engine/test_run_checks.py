"""What would change a run silently stops it or is in the work-dir log:
streams without losses, checkpoints of another model, a damaged latest
checkpoint."""
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

import icar_mm  # noqa: F401
from icar_mm.utils.setup_env import readable_checkpoint, set_resume
from tiny_models import small_demo_cfg

pytestmark = pytest.mark.usefixtures('single_thread')


def test_a_loss_without_its_stream_stops_the_build(tmp_path):
    cfg = small_demo_cfg(str(tmp_path), 1)
    cfg.train_dataloader.itc = None  # itc_loss is still configured
    with pytest.raises(ValueError, match="model.itc_loss .* no 'itc' "
                       'stream'):
        Runner.from_cfg(cfg).train()


def _log_text(runner) -> str:
    with open(runner.logger.log_file) as f:
        return f.read()


def test_checkpoint_of_another_model_is_logged_or_refused(tmp_path):
    first = Runner.from_cfg(small_demo_cfg(str(tmp_path / 'r18'), 1))
    first.train()
    ckpt = str(tmp_path / 'r18' / 'iter_1.pth')
    # another architecture: ResNet-34 from ResNet-18 weights
    other = {'model.backbone.depth': 34}
    runner = Runner.from_cfg(small_demo_cfg(str(tmp_path / 'r34'), 1,
                                            load_from=ckpt, **other))
    runner.train()
    log = _log_text(runner)
    assert 'does not fit the model' in log and 'missing from it' in log
    with pytest.raises(RuntimeError, match='Cannot resume.*load_from='):
        cfg = small_demo_cfg(str(tmp_path / 'r34b'), 2, load_from=ckpt,
                             **other)
        cfg.resume = True
        Runner.from_cfg(cfg).train()
    # the same model: nothing to report (an INFO line, below this log level)
    same = Runner.from_cfg(small_demo_cfg(str(tmp_path / 'same'), 1,
                                          load_from=ckpt))
    same.train()
    assert 'does not fit the model' not in _log_text(same)


def test_auto_resume_skips_a_damaged_latest_checkpoint(tmp_path):
    work = str(tmp_path)
    cfg = small_demo_cfg(work, 4, **{'default_hooks.checkpoint.interval': 2,
                                     'default_hooks.checkpoint.'
                                     'max_keep_ckpts': 3})
    Runner.from_cfg(cfg).train()
    latest = osp.join(work, 'iter_4.pth')
    with open(latest, 'r+b') as f:  # a job killed while writing it
        f.truncate(osp.getsize(latest) // 2)
    assert readable_checkpoint(latest).startswith('unreadable')
    assert readable_checkpoint(osp.join(work, 'iter_2.pth')) is None
    cfg = small_demo_cfg(work, 4)
    messages = set_resume(cfg, 'auto')
    assert cfg.resume and cfg.load_from == osp.join(work, 'iter_2.pth')
    assert messages[0].startswith(f'Auto-resume skipped {latest}')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4
    state = torch.load(osp.join(work, 'iter_4.pth'), weights_only=False)
    assert state['meta']['iter'] == 4
