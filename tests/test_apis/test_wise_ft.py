"""WiSE-FT's weight interpolation against its definition."""
import pytest
import torch

from icar_mm.apis import interpolate_weights


def test_interpolation_is_the_convex_mix_of_the_float_tensors():
    g = torch.Generator().manual_seed(0)
    zs = dict(w=torch.randn(3, 4, generator=g),
              steps=torch.tensor(5))
    ft = dict(w=torch.randn(3, 4, generator=g),
              steps=torch.tensor(9))
    for alpha in (0., 0.3, 1.):
        out = interpolate_weights(zs, ft, alpha)
        torch.testing.assert_close(
            out['w'], (1 - alpha) * zs['w'] + alpha * ft['w'])
        assert out['steps'].item() == 9  # not a weight: the fine-tuned one
    assert torch.equal(interpolate_weights(zs, ft, 0.)['w'], zs['w'])


def test_mismatched_ends_are_refused():
    w = torch.zeros(2)
    with pytest.raises(ValueError, match="only zero-shot: \\['b'\\]"):
        interpolate_weights(dict(a=w, b=w), dict(a=w), 0.5)
    with pytest.raises(ValueError, match=r'a: shape \(2,\)'):
        interpolate_weights(dict(a=w), dict(a=torch.zeros(3)), 0.5)
