"""Weights-only checkpoint loading: mmengine checkpoints load, code does not.

(a) a real mmengine Runner checkpoint (mmpretrain ImageClassifier, AdamW,
    gradient clipping, two param schedulers, message hub) resumes and loads
    through ``load_from`` / ``load_checkpoint`` under torch's default
    ``weights_only=True``;
(b) checkpoints carrying pickled callables (``os.system``, ``eval``, a
    ``getattr`` gadget) are refused with ``UnpicklingError`` before anything
    runs.
"""
import os
import os.path as osp
import pickle
import uuid
from typing import Any, Dict

import pytest
import torch
from torch.utils.data import Dataset

import icar_mm  # noqa: F401  (applies the allow-list)
from icar_mm.utils.checkpoint_safety import (allow_trusted_checkpoint_globals,
                                             restricted_getattr,
                                             trusted_checkpoint_globals)

pytestmark = pytest.mark.skipif(
    not hasattr(torch.serialization, 'add_safe_globals'),
    reason='torch < 2.4 has no weights-only allow-list')


class TinyImages(Dataset):
    """Eight random 32x32 images of three classes, already packed."""

    METAINFO = dict(classes=('cat', 'dog', 'car'))

    def __init__(self, num: int = 8) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.randint(
            0, 256, (num, 3, 32, 32), generator=gen, dtype=torch.uint8)
        self.labels = torch.arange(num) % 3
        self.metainfo = dict(self.METAINFO)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        from mmpretrain.structures import DataSample
        return dict(
            inputs=self.images[idx],
            data_samples=DataSample().set_gt_label(int(self.labels[idx])))


def _runner(work_dir: str, max_iters: int, **kwargs: Any):
    """Build a Runner training a tiny ResNet-18 classifier on CPU."""
    from mmengine.runner import Runner
    loader = dict(
        dataset=TinyImages(),
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_size=4,
        num_workers=0)
    model = dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor',
            num_classes=3,
            mean=[127.5] * 3,
            std=[127.5] * 3),
        backbone=dict(
            type='ResNet',
            depth=18,
            base_channels=8,
            num_stages=4,
            out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=3,
            in_channels=64,
            loss=dict(type='CrossEntropyLoss')))
    return Runner(
        model=model,
        work_dir=work_dir,
        experiment_name=f'ckpt_safety_{uuid.uuid4().hex[:8]}',
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=dict(type='Accuracy', topk=(1, )),
        val_cfg=dict(),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=2),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
            clip_grad=dict(max_norm=1.0)),
        param_scheduler=[
            dict(
                type='LinearLR',
                start_factor=0.1,
                by_epoch=False,
                begin=0,
                end=1),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=1, T_max=4)
        ],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmpretrain',
        randomness=dict(seed=0),
        **kwargs)


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> str:
    """Train 2 iterations and return the work dir holding ``iter_2.pth``."""
    work_dir = str(tmp_path_factory.mktemp('ckpt_safety'))
    runner = _runner(work_dir, max_iters=2)
    runner.train()
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    return work_dir


@pytest.fixture(autouse=True)
def no_global_bypass(monkeypatch) -> None:
    """The tests must pass without the global weights-only bypass."""
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)


def test_checkpoint_needs_only_allowed_globals(trained: str) -> None:
    ckpt = osp.join(trained, 'iter_2.pth')
    # nothing in it is outside torch's defaults + our allow-list ...
    assert torch.serialization.get_unsafe_globals_in_checkpoint(ckpt) == []
    # ... and without our allow-list, these are the globals it needs
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        found = set(
            torch.serialization.get_unsafe_globals_in_checkpoint(ckpt))
    finally:
        torch.serialization.add_safe_globals(saved)
    allowed = {name for _, name in trusted_checkpoint_globals()}
    # what mmengine actually pickles (see the module docstring)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in found
    assert 'builtins.getattr' in found
    assert found <= allowed, found - allowed
    # and it loads with weights_only=True, explicitly
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert {'meta', 'state_dict', 'optimizer', 'param_schedulers',
            'message_hub'} <= set(state)
    from mmengine.logging import HistoryBuffer
    loss = state['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert len(loss.data[0]) == 2


def test_resume_continues_training(trained: str) -> None:
    runner = _runner(trained, max_iters=4, resume=True)
    runner.train()
    assert runner.iter == 4
    # the resumed message hub kept the 2 logged losses of the first run
    loss = runner.message_hub.get_scalar('train/loss')
    assert len(loss.data[0]) == 4
    assert osp.isfile(osp.join(trained, 'iter_4.pth'))


def test_load_from_and_load_checkpoint(trained: str, tmp_path) -> None:
    from mmengine.runner import CheckpointLoader, load_checkpoint
    ckpt = osp.join(trained, 'iter_2.pth')
    expected = torch.load(ckpt, map_location='cpu')['state_dict']

    runner = _runner(str(tmp_path), max_iters=2, load_from=ckpt)
    runner.load_or_resume()
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, expected[key]), key

    # the plain mmengine APIs
    state = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
    assert state['meta']['iter'] == 2
    model = runner.model
    for param in model.parameters():
        param.data.zero_()
    load_checkpoint(model, ckpt, map_location='cpu')
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


class _System:
    """Pickles as ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


class _Eval:
    """Pickles as ``eval(source)``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self):
        return eval, (self.source, )


class _Getattr:
    """Pickles as ``getattr(owner, name)``."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner = owner
        self.name = name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


def _malicious(path: str, payload: Any) -> None:
    """Save an mmengine-looking checkpoint carrying ``payload``."""
    torch.save(
        dict(
            meta=dict(iter=1),
            state_dict={'weight': torch.zeros(2)},
            message_hub=dict(payload=payload)), path)


@pytest.mark.parametrize('kind', ['os.system', 'eval'])
def test_pickled_code_is_refused(kind: str, tmp_path) -> None:
    from mmengine.runner import CheckpointLoader, load_checkpoint
    marker = tmp_path / 'pwned'
    if kind == 'os.system':
        payload = _System(f'echo pwned > {marker}')
    else:
        payload = _Eval(f'open({str(marker)!r}, "w").write("pwned")')
    ckpt = str(tmp_path / 'evil.pth')
    _malicious(ckpt, payload)

    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
    model = torch.nn.Linear(2, 1)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(model, ckpt, map_location='cpu')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt)
    assert not marker.exists()


def test_getattr_only_resolves_history_buffer_statistics(tmp_path) -> None:
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import CheckpointLoader

    # what mmengine pickles: getattr(HistoryBuffer, 'min')
    good = str(tmp_path / 'good.pth')
    _malicious(good, _Getattr(HistoryBuffer, 'min'))
    state = CheckpointLoader.load_checkpoint(good, map_location='cpu')
    assert state['message_hub']['payload'] is HistoryBuffer.min

    # any other attribute walk is refused
    for owner, name in [(HistoryBuffer, 'update'),
                        (HistoryBuffer, '__init__'),
                        (HistoryBuffer, '__subclasses__'),
                        (torch.Tensor, '__class__')]:
        bad = str(tmp_path / 'bad.pth')
        _malicious(bad, _Getattr(owner, name))
        with pytest.raises(pickle.UnpicklingError, match='not allowed'):
            CheckpointLoader.load_checkpoint(bad, map_location='cpu')
    with pytest.raises(pickle.UnpicklingError):
        restricted_getattr(os, 'system')


def test_allow_list_is_idempotent() -> None:
    before = len(torch.serialization.get_safe_globals())
    allow_trusted_checkpoint_globals()
    allow_trusted_checkpoint_globals()
    assert len(torch.serialization.get_safe_globals()) == before
