"""CPUBF16AmpOptimWrapper: bfloat16 autocast where the CPU computes it
natively; float32, said in the log, where it does not (an AVX2 CPU runs
bfloat16 an order of magnitude slower), unless ``allow_emulated``."""
import pytest
import torch
from mmengine.logging import MMLogger

import icar_mm.engine.optim_wrappers as optim_wrappers
from gemm_recorder import GemmRecorder
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
    """On a CPU without native bfloat16 the forward and the backward
    (update_params) run their matmuls on float32 kernels, the forward's
    output still bfloat16 (the autocast)."""
    monkeypatch.setattr(optim_wrappers, 'has_native_cpu_bf16',
                        lambda: native)
    layer = torch.nn.Linear(4, 3)
    wrapper = CPUBF16AmpOptimWrapper(
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1),
        allow_emulated=True, gemm_in_float32=gemm_in_float32)
    assert wrapper.autocast_enabled
    assert wrapper.gemm_in_float32 == expected
    forward, backward = GemmRecorder(), GemmRecorder()
    with forward, wrapper.optim_context(layer):
        out = layer(torch.ones(5, 4))
    assert out.dtype == torch.bfloat16
    with backward:
        wrapper.update_params(out.float().square().sum())
    kernel_dtype = torch.float32 if expected else torch.bfloat16
    assert [name for name, _ in forward.calls] == ['addmm.default']
    assert forward.dtypes() == {kernel_dtype}
    # the weight's gradient: a matmul of bfloat16 tensors (the autocast's)
    assert 'mm.default' in [name for name, _ in backward.calls]
    assert backward.dtypes() == {kernel_dtype}


def test_feature_cache_backward_runs_in_the_wrappers_gemm_context(
        monkeypatch):
    """Feature-cache accumulation's towers' backward does not go through
    ``OptimWrapper.backward``: it enters the wrapper's gemm context."""
    from icar_mm.models.utils.feature_cache import feature_cache_step
    monkeypatch.setattr(optim_wrappers, 'has_native_cpu_bf16',
                        lambda: False)
    torch.manual_seed(0)
    tower = torch.nn.Linear(4, 3)

    class Model(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.tower = tower

        def representations(self, inputs, data_samples):
            return dict(x=self.tower(inputs['x']))

    model = Model()
    wrapper = CPUBF16AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        allow_emulated=True)
    recorder = GemmRecorder()
    chunks = [(dict(x=torch.randn(2, 4)), {}) for _ in range(2)]
    with recorder:
        feature_cache_step(model, chunks,
                           lambda reps: reps['x'].float().square().sum(),
                           wrapper)
    assert tower.weight.grad is not None
    assert 'mm.default' in [name for name, _ in recorder.calls]
    assert recorder.dtypes() == {torch.float32}
