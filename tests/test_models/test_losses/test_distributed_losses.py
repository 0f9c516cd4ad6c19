"""Two-process (gloo, CPU) equivalence of SigLIP's sigmoid loss and UniCL's
label-aware loss with the single-process loss on the global batch.

The relation (see ``tests/test_models/test_utils/test_distributed.py``):
for equal per-rank batches, with ``L_r`` rank ``r``'s loss and ``L`` the
one-process loss of the global batch, ``mean_r L_r == L``; the gradient
of rank ``r``'s own features is ``world_size * dL/d(features_r)``; the mean
over ranks of a replicated parameter's gradient (what DDP applies) is
``dL/d(param)``.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from dist_utils import run_distributed
from icar_mm.models.losses import ContrastiveLoss, SigmoidContrastiveLoss

WORLD = 2
N, DIM = 4, 8  # pairs per rank
#: pair labels of the global batch: classes shared across ranks, and
#: captions (negative labels) of their own
LABELS = torch.tensor([0, 3, 0, -1, 3, -2, 0, -3])
SIGLIP = dict(init_temperature=0.2, init_bias=-2.)


def _inputs():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(WORLD * N, DIM, generator=g),
            torch.randn(WORLD * N, DIM, generator=g))


def _run(crit, x, t, labels=None):
    x = x.clone().requires_grad_()
    t = t.clone().requires_grad_()
    loss = crit(x, t, labels=labels)['loss_itc']
    loss.backward()
    return dict(loss=loss.detach(), grad_x=x.grad, grad_t=t.grad,
                params={k: p.grad.clone()
                        for k, p in crit.named_parameters()})


def _worker(rank, world):
    from open_clip.loss import SigLipLoss
    images, texts = _inputs()
    share = slice(rank * N, (rank + 1) * N)
    x, t = images[share], texts[share]
    out = dict(
        siglip=_run(SigmoidContrastiveLoss(**SIGLIP), x, t),
        siglip_labels=_run(SigmoidContrastiveLoss(**SIGLIP), x, t,
                           LABELS[share]),
        unicl=_run(ContrastiveLoss(), x, t, LABELS[share]))
    # OpenCLIP's distributed SigLipLoss (neighbour exchange) as the oracle
    x2 = x.clone().requires_grad_()
    t2 = t.clone().requires_grad_()
    log_scale = nn.Parameter(torch.tensor(math.log(5.)))
    bias = nn.Parameter(torch.tensor(-2.))
    ref = SigLipLoss(rank=rank, world_size=world)(
        F.normalize(x2, dim=-1), F.normalize(t2, dim=-1), log_scale.exp(),
        bias)
    ref.backward()
    out['openclip'] = dict(
        loss=ref.detach(), grad_x=x2.grad, grad_t=t2.grad,
        params=dict(log_scale=log_scale.grad, bias=bias.grad))
    return out


pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module')
def results():
    return run_distributed(__file__, '_worker', WORLD)


def _close(a, b):
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def _assert_global_batch(ranks, single):
    _close(torch.stack([r['loss'] for r in ranks]).mean(), single['loss'])
    for rank, r in enumerate(ranks):
        share = slice(rank * N, (rank + 1) * N)
        _close(r['grad_x'], WORLD * single['grad_x'][share])
        _close(r['grad_t'], WORLD * single['grad_t'][share])
    for name, grad in single['params'].items():
        _close(torch.stack([r['params'][name] for r in ranks]).mean(), grad)


@pytest.mark.parametrize('scenario', ['siglip', 'siglip_labels', 'unicl'])
def test_two_processes_equal_one_process(results, scenario):
    images, texts = _inputs()
    if scenario == 'unicl':
        single = _run(ContrastiveLoss(), images, texts, LABELS)
    else:
        single = _run(SigmoidContrastiveLoss(**SIGLIP), images, texts,
                      LABELS if scenario == 'siglip_labels' else None)
    _assert_global_batch([res[scenario] for res in results], single)


def test_siglip_matches_openclip_per_rank(results):
    for res in results:
        ours, ref = res['siglip'], res['openclip']
        for key in ('loss', 'grad_x', 'grad_t'):
            _close(ours[key], ref[key])
        for name in ('log_scale', 'bias'):
            _close(ours['params'][name], ref['params'][name])
