"""ContrastiveLoss in one process: OpenCLIP's ClipLoss and the formula.

The cross-rank behaviour is tested in ``test_distributed.py``.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from icar_mm.models.losses.contrastive_loss import ContrastiveLoss
from icar_mm.models.utils.distributed import (all_gather_no_grad,
                                              all_gather_with_grad,
                                              rank_offset, rank_slice)
from icar_mm.registry import MODELS


pytestmark = pytest.mark.usefixtures('single_thread')


def _features(n=6, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dim, generator=g).requires_grad_(),
            torch.randn(n, dim, generator=g).requires_grad_())


@pytest.mark.parametrize('init_temperature', [0.07, 0.5])
def test_matches_openclip_clip_loss(init_temperature):
    from open_clip.loss import ClipLoss
    x, t = _features()
    crit = ContrastiveLoss(init_temperature=init_temperature)
    out = crit(x, t)
    out['loss_itc'].backward()

    # OpenCLIP: normalised features and logit_scale = exp(learned log scale)
    x2 = x.detach().clone().requires_grad_()
    t2 = t.detach().clone().requires_grad_()
    log_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
    ref = ClipLoss()(
        F.normalize(x2, dim=-1), F.normalize(t2, dim=-1), log_scale.exp())
    ref.backward()

    torch.testing.assert_close(out['loss_itc'], ref)
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(t.grad, t2.grad)
    torch.testing.assert_close(crit.log_scale.grad, log_scale.grad)
    assert crit.log_scale.grad.abs() > 0
    torch.testing.assert_close(out['itc_scale'],
                               torch.tensor(1 / init_temperature))
    assert not out['itc_scale'].requires_grad


def test_matches_formula_on_unnormalised_inputs():
    x, t = _features(n=5, dim=4, seed=1)
    x_scaled = (x * torch.arange(1., 6.)[:, None]).detach()  # norms vary
    loss = ContrastiveLoss()(x_scaled, t)['loss_itc']
    f, g = F.normalize(x_scaled, dim=-1), F.normalize(t, dim=-1)
    logits = f @ g.t() / 0.07
    target = torch.arange(5)
    expected = (F.cross_entropy(logits, target) +
                F.cross_entropy(logits.t(), target)) / 2
    torch.testing.assert_close(loss, expected)


def test_perfect_alignment_gives_low_loss():
    x, _ = _features(n=4, dim=16)
    aligned = ContrastiveLoss()(x, x.detach())['loss_itc']
    shuffled = ContrastiveLoss()(x, x.detach().roll(1, 0))['loss_itc']
    assert aligned < 0.1 < math.log(4) < shuffled


def test_scale_is_clamped_and_then_gets_no_gradient():
    from open_clip.loss import ClipLoss
    x, t = _features()
    crit = ContrastiveLoss(init_temperature=0.001, max_scale=100.)
    out = crit(x, t)
    out['loss_itc'].backward()
    assert out['itc_scale'].item() == pytest.approx(100.)
    ref = ClipLoss()(
        F.normalize(x, dim=-1), F.normalize(t, dim=-1), torch.tensor(100.))
    torch.testing.assert_close(out['loss_itc'], ref)
    assert crit.log_scale.grad.item() == 0


def test_fixed_scale_and_loss_weight():
    x, t = _features()
    crit = ContrastiveLoss(learnable=False, loss_weight=0.25)
    assert 'log_scale' not in dict(crit.named_parameters())
    assert 'log_scale' in crit.state_dict()
    base = ContrastiveLoss()(x, t)['loss_itc']
    torch.testing.assert_close(crit(x, t)['loss_itc'], 0.25 * base)


def test_built_from_registry():
    crit = MODELS.build(dict(type='ContrastiveLoss', init_temperature=0.1))
    assert isinstance(crit, ContrastiveLoss)
    assert crit.scale.item() == pytest.approx(10.)


def test_distributed_helpers_are_identity_without_process_group():
    x = torch.randn(3, 2, requires_grad=True)
    assert all_gather_with_grad(x) is x
    assert torch.equal(all_gather_no_grad(x), x)
    assert rank_offset(3, x.device) == 0
    assert rank_slice(7) == slice(0, 7)


# ------------------------------------------- UniCL: label-aware targets
def _unicl_by_definition(x, t, labels, scale):
    """UniCL's bidirectional loss ``L_BiC = L_i2t + L_t2i`` (Yang et al.
    2022; ICAR.md section 7), averaged over the batch, written out from its
    definition."""
    f, g = F.normalize(x, dim=-1), F.normalize(t, dim=-1)
    n = len(labels)
    sim = scale * f @ g.t()
    i2t = t2i = 0.
    for i in range(n):
        positives = [k for k in range(n) if labels[k] == labels[i]]
        i2t -= sum(
            sim[i, k] - torch.logsumexp(sim[i, :], 0)
            for k in positives) / len(positives)
        t2i -= sum(
            sim[k, i] - torch.logsumexp(sim[:, i], 0)
            for k in positives) / len(positives)
    return i2t / n + t2i / n


def test_labels_give_unicl_loss():
    x, t = _features(n=7, dim=5, seed=3)
    labels = torch.tensor([2, 0, 2, 2, -1, 0, -2])
    crit = ContrastiveLoss(init_temperature=0.1)
    out = crit(x, t, labels=labels)
    out['loss_itc'].backward()
    x2 = x.detach().clone().requires_grad_()
    t2 = t.detach().clone().requires_grad_()
    # halved, as CLIP's loss is: L_BiC / 2
    ref = _unicl_by_definition(x2, t2, labels, 10.) / 2
    ref.backward()
    torch.testing.assert_close(out['loss_itc'], ref)
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(t.grad, t2.grad)
    # same-class pairs are not negatives: the loss differs from CLIP's
    assert not torch.allclose(out['loss_itc'], crit(x, t)['loss_itc'])


def test_distinct_labels_give_clip_loss():
    x, t = _features(n=5, dim=4, seed=4)
    crit = ContrastiveLoss()
    torch.testing.assert_close(
        crit(x, t, labels=torch.tensor([9, -3, 0, 4, 1]))['loss_itc'],
        crit(x, t)['loss_itc'])
    with pytest.raises(ValueError, match='one label per pair'):
        crit(x, t, labels=torch.zeros(2, dtype=torch.long))
