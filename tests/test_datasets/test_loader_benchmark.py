"""The loader benchmark runs (tiny) and reports every figure it promises."""
import json

import pytest

import icar_mm  # noqa: F401
from repo_paths import load_tool


@pytest.mark.usefixtures('single_thread')
def test_loader_benchmark_smoke(tmp_path, capsys):
    bench = load_tool('tools/benchmark/loader_throughput.py')
    out = str(tmp_path / 'bench.json')
    assert bench.main(['--num-images', '48', '--shard-size', '16',
                       '--batch-size', '8', '--repeats', '1', '--json',
                       out]) == 0
    with open(out) as f:
        results = json.load(f)
    for name in ('icar-shards', 'icar-csv', 'openclip-shards'):
        assert results[name]['images'] == 40  # the first batch is warm-up
        assert results[name]['images_per_s'] > 0
    assert results['ratio_icar_shards_vs_openclip'] > 0
    assert 'icar shards / OpenCLIP shards' in capsys.readouterr().out
