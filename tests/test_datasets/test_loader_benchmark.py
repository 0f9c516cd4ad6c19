"""The loader benchmark runs (tiny) and reports every figure it promises."""
import importlib.util
import json
import os.path as osp

import pytest

import icar_mm  # noqa: F401
from repo_paths import REPO_ROOT as REPO


@pytest.mark.usefixtures('single_thread')
def test_loader_benchmark_smoke(tmp_path, capsys):
    path = osp.join(REPO, 'tools/benchmark/loader_throughput.py')
    spec = importlib.util.spec_from_file_location('icar_bench', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
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
