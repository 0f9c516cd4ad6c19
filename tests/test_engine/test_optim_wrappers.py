"""CPUBF16AmpOptimWrapper: bfloat16 autocast where the CPU computes it
natively; float32, said in the log, where it does not (an AVX2 CPU runs
bfloat16 an order of magnitude slower), unless ``allow_emulated``."""
import pytest
import torch
from mmengine.logging import MMLogger

import icar_mm.engine.optim_wrappers as optim_wrappers
from icar_mm.engine import CPUBF16AmpOptimWrapper


@pytest.mark.parametrize('native,allow_emulated,dtype', [
    (True, False, torch.bfloat16),
    (False, True, torch.bfloat16),
    (False, False, torch.float32),
])
def test_cpu_amp_wrapper_casts_where_bf16_is_native(
        tmp_path, monkeypatch, native, allow_emulated, dtype):
    monkeypatch.setattr(optim_wrappers, 'has_native_cpu_bf16',
                        lambda: native)
    log = tmp_path / 'run.log'
    # print_log(logger='current') writes to the latest logger: the run's
    MMLogger.get_instance(f'wrapper_{native}_{allow_emulated}',
                          log_file=str(log))
    layer = torch.nn.Linear(2, 2)
    before = layer.weight.detach().clone()
    wrapper = CPUBF16AmpOptimWrapper(
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1),
        allow_emulated=allow_emulated)
    assert wrapper.autocast_enabled == (dtype == torch.bfloat16)
    with wrapper.optim_context(layer):
        out = layer(torch.ones(1, 2))
    assert out.dtype == dtype
    wrapper.update_params(out.float().sum())
    assert not torch.equal(layer.weight, before)  # it trains either way
    text = log.read_text()
    assert ('trains in FLOAT32' in text) == (dtype == torch.float32)
    if dtype == torch.float32:  # names the fix
        assert 'optim_wrapper.allow_emulated=True' in text


@pytest.mark.parametrize('native,gemm_in_float32,expected', [
    (False, True, True),
    (False, False, False),
    (True, True, False),  # native bfloat16 kernels: nothing to emulate
])
def test_emulated_bf16_runs_its_matmuls_on_float32_kernels(
        monkeypatch, native, gemm_in_float32, expected):
    """Forward and backward (update_params) run inside BF16GemmInFloat32
    on a CPU without native bfloat16, and their matmuls take bfloat16
    operands (the autocast) into float32 kernels."""
    monkeypatch.setattr(optim_wrappers, 'has_native_cpu_bf16',
                        lambda: native)
    seen = []

    class Spy(optim_wrappers.BF16GemmInFloat32):

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.mm.default,
                        torch.ops.aten.addmm.default):
                seen.append((str(func), torch.is_grad_enabled(),
                             tuple(a.dtype for a in args
                                   if isinstance(a, torch.Tensor))))
            return super().__torch_dispatch__(func, types, args, kwargs)

    monkeypatch.setattr(optim_wrappers, 'BF16GemmInFloat32', Spy)
    layer = torch.nn.Linear(4, 3)
    wrapper = CPUBF16AmpOptimWrapper(
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1),
        allow_emulated=True, gemm_in_float32=gemm_in_float32)
    assert wrapper.autocast_enabled
    assert wrapper.gemm_in_float32 == expected
    with wrapper.optim_context(layer):
        out = layer(torch.ones(5, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().sum())
    if not expected:
        assert seen == []
        return
    bf16 = torch.bfloat16
    # forward addmm, then the backward's mm for the weight's gradient
    assert seen[0] == ('aten.addmm.default', True, (bf16, bf16, bf16))
    assert ('aten.mm.default', False, (bf16, bf16)) in seen[1:]
