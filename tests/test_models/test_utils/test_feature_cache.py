"""Feature-cache gradient accumulation gives the full batch's gradients.

One step over k micro-batches must equal one step on the whole batch (the
contrastive loss over all pairs, the classifier over all labels), while
mmengine-style summing of micro-batch losses does not. The 2-process
version (DDP, gather-with-grad) is in tests/test_engine/test_ddp_training.py.
"""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

import icar_mm  # noqa: F401
from icar_mm.models.utils.feature_cache import split_streams
from icar_mm.registry import MODELS
from tiny_models import TINY_TEXT

N = 8
CLASSES = ['red circle', 'blue square', 'green triangle', 'tree']
CAPTIONS = ['a big red circle', 'a small blue square', 'green triangle',
            'two circles', 'a tall tree', 'the sky', 'a red tree',
            'blue circle and a square']


pytestmark = pytest.mark.usefixtures('single_thread')


def _model(cls_head='text', dropout=0., **kwargs):
    """A batch-independent iCAR: LayerNorm ViT, a 1-layer BERT; identity
    data preprocessing (the inputs are already normalised)."""
    torch.manual_seed(0)
    heads = dict(
        text=dict(type='TextMetaClassifier', classifier=dict(
            class_texts=dict(classes=CLASSES, templates=['a {}.', '{}'],
                             use_descriptions=False), learnable_tau=True)),
        linear=dict(type='LinearClsHead', num_classes=len(CLASSES),
                    in_channels=32))
    return MODELS.build(dict(
        type='ICAR',
        backbone=dict(type='VisionTransformer', arch=dict(
            embed_dims=32, num_layers=1, num_heads=2,
            feedforward_channels=64), img_size=16, patch_size=8,
            out_type='avg_featmap', with_cls_token=False,
            drop_rate=dropout),
        neck=None, feat_channels=32, embed_dim=16,
        text_encoder=dict(config=dict(TINY_TEXT,
                                      hidden_dropout_prob=dropout),
                          tokenizer='byte'),
        cls_head=heads[cls_head],
        cls_on_projection=cls_head == 'text',
        itc_loss=dict(type='ContrastiveLoss'),
        data_preprocessor=dict(type='TwoStreamDataPreprocessor',
                               mean=None, std=None, to_rgb=False),
        **kwargs))


def _batch():
    """A preprocessed two-stream batch."""
    g = torch.Generator().manual_seed(1)
    itc = []
    for caption in CAPTIONS:
        sample = DataSample()
        sample.text = caption
        itc.append(sample)
    return dict(
        inputs=dict(cls=torch.randn(N, 3, 16, 16, generator=g),
                    itc=torch.randn(N, 3, 16, 16, generator=g)),
        data_samples=dict(
            cls=[DataSample().set_gt_label(i % len(CLASSES))
                 for i in range(N)], itc=itc))


def _loader_batch():
    """The same batch as the dataloader yields it (uint8-free floats)."""
    batch = _batch()
    return {name: dict(inputs=list(batch['inputs'][name]),
                       data_samples=batch['data_samples'][name])
            for name in ('cls', 'itc')}


def _grads(model):
    return {name: p.grad.clone() for name, p in model.named_parameters()
            if p.grad is not None}


def _full_batch_grads(model):
    batch = _batch()
    losses = model.loss(batch['inputs'], batch['data_samples'])
    loss, _ = model.parse_losses(losses)
    loss.backward()
    return _grads(model)


def _feature_cache_grads(model, k):
    model.accum_freq = k
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.))
    optim.zero_grad = lambda **kw: None  # keep the gradients to compare
    model.train_step(_loader_batch(), optim)
    return _grads(model)


def _naive_accumulation_grads(model, k):
    """mmengine's accumulative_counts: mean of the micro-batch losses."""
    batch = _batch()
    for inputs, samples in split_streams(batch['inputs'],
                                         batch['data_samples'], k):
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        (loss / k).backward()
    return _grads(model)


def _assert_equal_grads(a, b, scale=1.):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4,
                                   atol=1e-6 * scale, msg=name)


@pytest.mark.parametrize('cls_head', ['text', 'linear'])
@pytest.mark.parametrize('k', [2, 4])
def test_feature_cache_equals_full_batch(cls_head, k):
    model = _model(cls_head)
    reference = _full_batch_grads(copy.deepcopy(model))
    cached = _feature_cache_grads(model, k)
    # the text encoder, the towers, the learnable temperatures and the head
    assert any(n.startswith('text_encoder.model') for n in cached)
    assert 'itc_loss.logit_scale' in cached or any(
        'scale' in n for n in cached)
    _assert_equal_grads(reference, cached)


def test_naive_accumulation_differs():
    """The check above can fail: summing micro-batch losses is not it."""
    model = _model()
    reference = _full_batch_grads(copy.deepcopy(model))
    naive = _naive_accumulation_grads(model, 2)
    diff = max((reference[n] - naive[n]).abs().max() /
               reference[n].abs().max().clamp(min=1e-12) for n in reference)
    assert diff > 1e-2


def test_dropout_masks_are_replayed():
    """With dropout, the re-encoded micro-batches reuse the cached pass's
    random masks: the gradients are those of that one random draw, so two
    runs from the same seed agree and the step is well defined."""
    model = _model(dropout=0.3)
    first = copy.deepcopy(model)
    torch.manual_seed(5)
    a = _feature_cache_grads(first, 2)
    torch.manual_seed(5)
    b = _feature_cache_grads(model, 2)
    _assert_equal_grads(a, b)
    assert all(torch.isfinite(g).all() for g in a.values())


def test_batch_not_divisible_is_a_clear_error():
    model = _model()
    model.accum_freq = 3
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.))
    with pytest.raises(ValueError, match='multiple of 3'):
        model.train_step(_loader_batch(), optim)


def test_cannot_combine_with_accumulative_counts():
    model = _model(accum_freq=2)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.),
                         accumulative_counts=2)
    with pytest.raises(ValueError, match='accumulative_counts'):
        model.train_step(_loader_batch(), optim)


class _LossScalingOptimWrapper(OptimWrapper):
    """Scales the loss in ``backward`` like fp16 AMP's GradScaler."""
    scale = 1024.

    def backward(self, loss, **kwargs):
        (loss * self.scale).backward(**kwargs)


def test_loss_scaling_is_applied_once():
    """Under fp16 AMP the towers' gradients carry the loss scale once (the
    cached representations' gradients already hold it)."""
    model = _model()
    reference = _full_batch_grads(copy.deepcopy(model))
    model.accum_freq = 2
    optim = _LossScalingOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.))
    optim.zero_grad = lambda **kw: None
    model.train_step(_loader_batch(), optim)
    scaled = {n: g * optim.scale for n, g in reference.items()}
    _assert_equal_grads(scaled, _grads(model), optim.scale)
