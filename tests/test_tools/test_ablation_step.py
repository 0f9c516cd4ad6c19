"""tools/benchmark/ablation_step.py: each path trains the ablation config
with the optimizer wrapper and AdamW implementation it names."""
import json
import os.path as osp
import sys

from repo_paths import REPO_ROOT as REPO  # noqa: E402

BENCH_DIR = osp.join(REPO, 'tools', 'benchmark')
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)

from bench_utils import run_worker  # noqa: E402


def test_paths_train_with_what_they_name():
    script = osp.join(BENCH_DIR, 'ablation_step.py')
    out = {}
    for path in ('fp32', 'bf16'):
        out[path] = json.loads(run_worker(script, [
            '--threads=1', '--warmup=1', '--steps=2', '--variant=linear',
            f'--path={path}']))
    assert out['fp32']['wrapper'] == 'OptimWrapper'
    assert out['fp32']['fused'] is False
    assert out['bf16']['wrapper'] == 'CPUBF16AmpOptimWrapper'
    assert out['bf16']['fused'] is True
    # on a CPU without native bfloat16 the matmuls run float32 kernels
    from icar_mm.utils.setup_env import has_native_cpu_bf16
    assert out['bf16']['autocast'] is True
    assert out['bf16']['gemm_in_float32'] is (not has_native_cpu_bf16())
    assert out['fp32']['gemm_in_float32'] is False
    for r in out.values():
        assert r['seconds'] > 0 and r['peak_mb'] > 0
        assert len(r['losses']) == 3
    # same seed and batches: the bfloat16 path trains the same model
    for a, b in zip(out['fp32']['losses'], out['bf16']['losses']):
        assert abs(a - b) < 0.02 * abs(a)
