"""BF16GemmInFloat32: bfloat16 matmuls and convolutions computed by float32
kernels give the correctly rounded bfloat16 result of their bfloat16
operands (what oneDNN's AVX-512 kernels compute), forward and backward;
everything else runs unchanged."""
import pytest
import torch
import torch.nn.functional as F

from icar_mm.engine import BF16GemmInFloat32

BF16 = torch.bfloat16


def _assert_rounded(result: torch.Tensor, exact: torch.Tensor) -> None:
    """``result`` is bfloat16 and within one bfloat16 step of ``exact``
    (float64), and most elements are exactly ``exact`` rounded."""
    assert result.dtype == BF16
    # a bfloat16 step at |exact|: 2^-7 relative (8 significant bits)
    step = exact.abs().clamp_min(1e-30) * 2.0**-7
    assert ((result.double() - exact).abs() <= step).all()
    assert (result == exact.to(BF16)).double().mean() > 0.95


def _operands(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g).to(BF16) for s in shapes]


@pytest.mark.parametrize('op', ['mm', 'addmm', 'bmm', 'baddbmm', 'linear'])
def test_matmuls_are_the_rounded_float64_result(op):
    # K = 384: sums of 384 bfloat16 products, as in MiniLM's layers
    a, b, c = _operands((48, 384), (384, 40), (40, ))
    batch = dict(
        mm=lambda t: t(a, b),
        addmm=lambda t: t(c, a, b),
        bmm=lambda t: t(a.reshape(3, 16, 384), b[None].expand(3, -1, -1)),
        baddbmm=lambda t: t(c, a.reshape(3, 16, 384),
                            b[None].expand(3, -1, -1)),
        linear=lambda t: t(a, b.t(), c))
    fn = dict(mm=torch.mm, addmm=torch.addmm, bmm=torch.bmm,
              baddbmm=torch.baddbmm, linear=F.linear)[op]
    with BF16GemmInFloat32():
        result = batch[op](fn)
    exact = batch[op](lambda *xs: fn(*(x.double() for x in xs)))
    _assert_rounded(result, exact)


def test_autograd_of_a_linear_layer_and_a_convolution():
    """The mode sits below autograd: the backward pass's matmuls and
    convolution_backward are covered too, each rounded once."""
    x, w, v = _operands((4, 8, 10, 10), (16, 8, 3, 3), (32, 16 * 10 * 10))
    xs, ws, vs = (t.clone().requires_grad_() for t in (x, w, v))
    with BF16GemmInFloat32():
        feat = F.conv2d(xs, ws, padding=1)
        out = F.linear(feat.flatten(1), vs)
        grad_out = torch.ones_like(out)
        gx, gw, gv, gfeat = torch.autograd.grad(out, (xs, ws, vs, feat),
                                                grad_out)
    x64, w64, v64 = (t.double().requires_grad_() for t in (x, w, v))
    feat64 = F.conv2d(x64, w64, padding=1)
    _assert_rounded(feat, feat64.detach())
    # the next layer reads the rounded features, as in the mode
    feat_in = feat.double().requires_grad_()
    out64 = F.linear(feat_in.flatten(1), v64)
    _assert_rounded(out, out64.detach())
    gv64, gfeat64 = torch.autograd.grad(out64, (v64, feat_in),
                                        grad_out.double())
    _assert_rounded(gv, gv64)
    _assert_rounded(gfeat, gfeat64)
    # the convolution's backward reads the rounded incoming gradient
    gx64, gw64 = torch.autograd.grad(feat64, (x64, w64), gfeat.double())
    _assert_rounded(gx, gx64)
    _assert_rounded(gw, gw64)


def test_it_agrees_with_torchs_bfloat16_kernels():
    """Forward matmuls match torch's own bfloat16 kernels (float32 sums,
    one rounding) to within one bfloat16 step."""
    a, b = _operands((32, 64), (64, 24), seed=1)
    with BF16GemmInFloat32():
        ours = a @ b
    theirs = a @ b
    step = theirs.double().abs().clamp_min(1e-30) * 2.0**-7
    assert ((ours.double() - theirs.double()).abs() <= step).all()


def test_other_ops_and_other_dtypes_run_unchanged():
    a, b = _operands((8, 16), (16, 4))
    calls = []

    class Spy(BF16GemmInFloat32):

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = super().__torch_dispatch__(func, types, args, kwargs)
            calls.append((str(func), tuple(
                o.dtype for o in (out if isinstance(out, tuple) else (out, ))
                if isinstance(o, torch.Tensor))))
            return out

    f32 = torch.randn(8, 16), torch.randn(16, 4)
    with Spy():
        softmax = torch.softmax(a, -1)
        f32_mm = f32[0] @ f32[1]
        mixed = torch.mm(a.float(), b.float())
    assert torch.equal(softmax, torch.softmax(a, -1))
    assert softmax.dtype == BF16
    # float32 matmuls are not touched: bit-identical, float32 out
    assert torch.equal(f32_mm, f32[0] @ f32[1])
    assert f32_mm.dtype == mixed.dtype == torch.float32
    assert ('aten.mm.default', (torch.float32, )) in calls
