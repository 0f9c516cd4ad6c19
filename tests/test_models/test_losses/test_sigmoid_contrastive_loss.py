"""SigmoidContrastiveLoss in one process: OpenCLIP's SigLipLoss and the
formula. The cross-rank behaviour is tested in ``test_distributed_losses``.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from icar_mm.models.losses import SigmoidContrastiveLoss
from icar_mm.registry import MODELS

pytestmark = pytest.mark.usefixtures('single_thread')


def _features(n=6, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dim, generator=g).requires_grad_(),
            torch.randn(n, dim, generator=g).requires_grad_())


@pytest.mark.parametrize('init_temperature,init_bias', [(0.1, -10.),
                                                        (0.5, -2.)])
def test_matches_openclip_siglip_loss(init_temperature, init_bias):
    from open_clip.loss import SigLipLoss
    x, t = _features()
    crit = SigmoidContrastiveLoss(
        init_temperature=init_temperature, init_bias=init_bias)
    out = crit(x, t)
    out['loss_itc'].backward()

    x2 = x.detach().clone().requires_grad_()
    t2 = t.detach().clone().requires_grad_()
    log_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
    bias = nn.Parameter(torch.tensor(init_bias))
    ref = SigLipLoss()(
        F.normalize(x2, dim=-1), F.normalize(t2, dim=-1), log_scale.exp(),
        bias)
    ref.backward()

    torch.testing.assert_close(out['loss_itc'], ref)
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(t.grad, t2.grad)
    torch.testing.assert_close(crit.log_scale.grad, log_scale.grad)
    torch.testing.assert_close(crit.bias.grad, bias.grad)
    assert crit.bias.grad.abs() > 0 and crit.log_scale.grad.abs() > 0
    assert out['itc_bias'].item() == pytest.approx(init_bias)
    assert not out['itc_bias'].requires_grad


def test_matches_formula_with_labels():
    x, t = _features(n=5, dim=4, seed=1)
    labels = torch.tensor([3, 0, 3, -1, 0])
    crit = SigmoidContrastiveLoss(init_temperature=0.2, init_bias=-1.)
    loss = crit(x, t, labels=labels)['loss_itc']
    f, g = F.normalize(x, dim=-1), F.normalize(t, dim=-1)
    expected = 0.
    for i in range(5):
        for j in range(5):
            z = 1. if labels[i] == labels[j] else -1.
            logit = 5. * (f[i] @ g[j]) - 1.
            expected = expected - math.log(torch.sigmoid(z * logit).item())
    assert loss.item() == pytest.approx(expected / 5, rel=1e-5)
    # labels all distinct: the pair itself is the only positive
    torch.testing.assert_close(
        crit(x, t, labels=torch.arange(5) * 7)['loss_itc'],
        crit(x, t)['loss_itc'])
    with pytest.raises(ValueError, match='one label per pair'):
        crit(x, t, labels=labels[:3])


def test_aligned_pairs_give_lower_loss():
    x, _ = _features(n=4, dim=16)
    crit = SigmoidContrastiveLoss(init_temperature=0.05, init_bias=-5.)
    aligned = crit(x, x.detach())['loss_itc']
    shuffled = crit(x, x.detach().roll(1, 0))['loss_itc']
    assert aligned < shuffled


def test_fixed_scale_and_bias_and_registry():
    crit = MODELS.build(
        dict(type='SigmoidContrastiveLoss', learnable=False,
             loss_weight=0.5))
    assert not dict(crit.named_parameters())
    assert {'log_scale', 'bias'} <= set(crit.state_dict())
    x, t = _features()
    base = SigmoidContrastiveLoss()(x, t)['loss_itc']
    torch.testing.assert_close(crit(x, t)['loss_itc'], 0.5 * base)
    assert crit.scale.item() == pytest.approx(10.)
