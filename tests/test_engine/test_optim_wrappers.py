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
