"""BF16GemmInFloat32: bfloat16 matmuls and convolutions run float32 kernels
on their bfloat16 operands and round the result once to bfloat16, forward
and backward; everything else runs unchanged."""
import pytest
import torch
import torch.nn.functional as F

from gemm_recorder import GemmRecorder
from icar_mm.engine import BF16GemmInFloat32

BF16 = torch.bfloat16


def _operands(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g).to(BF16) for s in shapes]


def _float32_rounded(fn, *operands):
    """The float32 kernel on the (exact) float32 copies, rounded once."""
    return fn(*(x.float() for x in operands)).to(BF16)


def _assert_within_a_step(result: torch.Tensor, exact: torch.Tensor) -> None:
    """``result`` is bfloat16 and within one bfloat16 step of ``exact``
    (float64): the float32 sums lose nothing bfloat16 can show."""
    assert result.dtype == BF16
    # a bfloat16 step at |exact|: 2^-7 relative (8 significant bits)
    step = exact.abs().clamp_min(1e-30) * 2.0**-7
    assert ((result.double() - exact).abs() <= step).all()


# K = 384 and 1536: sums of that many bfloat16 products, as in MiniLM
A, B, C = _operands((48, 384), (384, 40), (40, ))
A3, B3 = A.reshape(3, 16, 384), B[None].expand(3, -1, -1)
CASES = dict(
    mm=(torch.mm, (A, B)),
    addmm=(torch.addmm, (C, A, B)),
    bmm=(torch.bmm, (A3, B3)),
    baddbmm=(torch.baddbmm, (C, A3, B3)),
    addbmm=(torch.addbmm, (C, A3, B3)),
    linear=(F.linear, (A, B.t(), C)),
    long_sum=(torch.mm, tuple(_operands((8, 1536), (1536, 8), seed=2))),
)


@pytest.mark.parametrize('case', list(CASES))
def test_matmuls_run_float32_kernels_and_round_once(case):
    fn, operands = CASES[case]
    recorder = GemmRecorder()
    with recorder, BF16GemmInFloat32():
        result = fn(*operands)
    # the kernels got float32 operands, and nothing else
    assert recorder.calls and recorder.dtypes() == {torch.float32}
    # bit for bit the float32 kernel's result, rounded once
    assert result.dtype == BF16
    assert torch.equal(result, _float32_rounded(fn, *operands))
    _assert_within_a_step(result, fn(*(x.double() for x in operands)))


def test_without_the_mode_the_kernels_get_bfloat16():
    """The recorder sees what the mode changes (the tests above could
    not pass on bfloat16 kernels by accident)."""
    recorder = GemmRecorder()
    with recorder:
        A @ B
    assert recorder.dtypes() == {BF16}


def test_autograd_of_a_linear_layer_and_a_convolution():
    """The mode sits below autograd: the backward pass's matmuls and
    convolution_backward run float32 kernels too, each rounded once."""
    x, w, v = _operands((4, 8, 10, 10), (16, 8, 3, 3), (32, 16 * 10 * 10))
    xs, ws, vs = (t.clone().requires_grad_() for t in (x, w, v))
    recorder = GemmRecorder()
    with recorder, BF16GemmInFloat32():
        feat = F.conv2d(xs, ws, padding=1)
        out = F.linear(feat.flatten(1), vs)
        grad_out = torch.ones_like(out)
        gx, gw, gv, gfeat = torch.autograd.grad(out, (xs, ws, vs, feat),
                                                grad_out)
    ops = {name for name, _ in recorder.calls}
    assert {'convolution.default', 'convolution_backward.default',
            'mm.default'} <= ops
    assert recorder.dtypes() == {torch.float32}
    x64, w64, v64 = (t.double().requires_grad_() for t in (x, w, v))
    feat64 = F.conv2d(x64, w64, padding=1)
    _assert_within_a_step(feat, feat64.detach())
    # the next layer reads the rounded features, as in the mode
    feat_in = feat.double().requires_grad_()
    out64 = F.linear(feat_in.flatten(1), v64)
    _assert_within_a_step(out, out64.detach())
    gv64, gfeat64 = torch.autograd.grad(out64, (v64, feat_in),
                                        grad_out.double())
    _assert_within_a_step(gv, gv64)
    _assert_within_a_step(gfeat, gfeat64)
    # the convolution's backward reads the rounded incoming gradient
    # (torch's own bfloat16 convolution backward of an AVX2 CPU is off by
    # more than a step here)
    gx64, gw64 = torch.autograd.grad(feat64, (x64, w64), gfeat.double())
    _assert_within_a_step(gx, gx64)
    _assert_within_a_step(gw, gw64)


def test_other_ops_and_other_dtypes_run_unchanged():
    a, b = _operands((8, 16), (16, 4))
    f32 = torch.randn(8, 16), torch.randn(16, 4)
    recorder = GemmRecorder()
    with recorder, BF16GemmInFloat32():
        softmax = torch.softmax(a, -1)
        f32_mm = f32[0] @ f32[1]
        # mixed dtypes are not converted: the same error as without it
        with pytest.raises(RuntimeError):
            torch.mm(a, f32[1])
        # nor in-place or out= variants, which must write their argument
        out = torch.empty(8, 4, dtype=BF16)
        torch.mm(a, b, out=out)
    assert torch.equal(softmax, torch.softmax(a, -1))
    assert softmax.dtype == BF16
    # float32 matmuls are not touched: bit-identical, float32 out
    assert torch.equal(f32_mm, f32[0] @ f32[1])
    assert recorder.calls[0] == ('mm.default', (torch.float32, ) * 2)
    assert recorder.calls[1] == ('mm.default', (BF16, torch.float32))
    assert torch.equal(out, a @ b)
