"""tools/experiments/ablation.py: the smoke ablation runs and writes a
well-formed report; the variants' config files, caching, aggregation and
README update."""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest

from repo_paths import REPO_ROOT as REPO  # noqa: E402
TOOL_DIR = osp.join(REPO, 'tools', 'experiments')
if TOOL_DIR not in sys.path:
    sys.path.insert(0, TOOL_DIR)

import ablation  # noqa: E402
import ablation_report  # noqa: E402
from ablation_report import METRICS  # noqa: E402


def _run(args, timeout=170):
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    return subprocess.run(
        [sys.executable, osp.join(TOOL_DIR, 'ablation.py')] + args,
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _table_rows(md: str):
    lines = [ln for ln in md.splitlines() if ln.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    rows = [[c.strip() for c in ln.strip('|').split('|')] for ln in lines[2:]]
    return header, rows


def test_smoke_ablation_writes_report(tmp_path):
    work = str(tmp_path / 'work')
    readme = tmp_path / 'README.md'
    readme.write_text('# x\n\nintro\n\n## License\n\nMIT\n')
    args = ['--smoke', '--text-tower', 'tiny', '--variants', 'linear',
            'icar', '--controls', '--seeds', '0', '--jobs', '2',
            '--work-dir', work]
    start = time.time()
    proc = _run(args)
    first = time.time() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert first < 180
    out = osp.join(work, 'report-smoke')
    report = json.load(open(osp.join(out, 'ablation.json')))
    assert set(report['summary']) == {'linear', 'icar'}
    assert report['schedule']['max_iters'] == ablation.SMOKE_SCHEDULE[
        'max_iters']
    assert report['schedule']['text_tower'] == 'tiny'
    for variant, per in report['summary'].items():
        assert set(per) == set(METRICS)
        for m, e in per.items():
            has_text = variant == 'icar'
            if m in ('zs_names', 'zs_described', 'retrieval_r1') \
                    and not has_text:
                assert e['mean'] is None and e['n'] == 0
            else:
                assert e['n'] == 1 and 0. <= e['mean'] <= 100.
    runs = {r['variant']: r for r in report['runs']}
    assert runs['linear']['seen_protocol'] == 'head'
    assert all(r['cpu_s'] > 0 for r in report['runs'])
    assert report['timing']['cpu_s'] == pytest.approx(
        sum(r['cpu_s'] for r in report['runs']))
    # the Markdown table: one row per variant, one column per metric
    header, rows = _table_rows(open(osp.join(out, 'ablation.md')).read())
    assert header[3:] == list(METRICS.values())
    assert [r[0] for r in rows[:2]] == ['1', '6']
    for row in rows[:2]:
        assert len(row) == len(header)
        for cell in row[3:]:
            if cell != 'n/a':
                v = float(cell.strip('*').split(' ± ')[0])
                assert 0. <= v <= 100.
    assert osp.getsize(osp.join(out, 'ablation.png')) > 1000
    # the smoke run never touches a README; --report-only with --readme does
    assert 'ablation:start' not in readme.read_text()
    # second call: both runs cached, nothing trained
    proc = _run(args + ['--readme', str(readme)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '2 of 2 runs cached; 0 to train' in proc.stdout
    text = readme.read_text()
    assert text.index('## Does deep fusion help?') < text.index('## License')
    assert 'tools/experiments/ablation.py --smoke --text-tower tiny' in text


#: the configs whose change each ablation file repeats (its baseline)
BASELINES = {
    'linear': 'baselines/linear_resnet18_1xb64_synthetic-world.py',
    'cosine': 'baselines/cosine_resnet18_1xb64_synthetic-world.py',
    'clip': 'baselines/clip_resnet18-minilm_1xb64_synthetic-world.py',
    'shallow': 'baselines/shallow-fusion_resnet18-minilm_1xb64_'
               'synthetic-world.py',
    'icar_names': 'baselines/icar-names_resnet18-minilm_1xb64_'
                  'synthetic-world.py',
    'icar': 'icar_resnet18-minilm_1xb64_synthetic-world.py',
    'icar_random_text': 'icar_resnet18-minilm_1xb64_synthetic-world.py',
}


def _streams(cfg):
    return {k for k, v in cfg.train_dataloader.items() if v is not None}


def test_config_files_are_their_baselines_under_the_schedule(tmp_path):
    from mmengine.config import Config
    assert set(BASELINES) == set(ablation.ALL_VARIANTS)
    for v, (path, _) in ablation.ALL_VARIANTS.items():
        assert path == f'configs/ablation/{v}.py'
        cfg = ablation.load_cfg(v, 3, ablation.SCHEDULE, str(tmp_path))
        assert cfg.to_dict() == Config.fromfile(osp.join(
            REPO, path)).to_dict() | dict(
                randomness=dict(seed=3, deterministic=False),
                work_dir=str(tmp_path))
        # the file holds the recorded schedule: applying it is a no-op
        again = ablation.load_cfg(v, 3, ablation.SCHEDULE, str(tmp_path))
        ablation.apply_schedule(again, ablation.SCHEDULE)
        assert again.to_dict() == cfg.to_dict()
        assert cfg.train_cfg.max_iters == 400
        assert cfg.val_cfg is None and cfg.default_hooks.checkpoint is None
        # the same model and streams as the baseline, but the text tower
        base = Config.fromfile(osp.join(REPO, 'configs/icar', BASELINES[v]))
        te = cfg.model.pop('text_encoder')
        base_te = base.model.pop('text_encoder')
        assert cfg.model.to_dict() == base.model.to_dict(), v
        assert _streams(cfg) == _streams(base), v
        if base_te is None:
            assert te is None
            continue
        assert te.type == 'CachedFrozenTextEncoder'
        assert te.max_length == base_te.max_length
        if v == 'icar_random_text':
            assert te.get('pretrained') is None
            assert te.config.hidden_size == 384
            assert te.tokenizer == base_te.pretrained
        else:
            assert te.pretrained == base_te.pretrained
            assert 'fallback' not in te


def test_load_cfg_applies_other_schedules(tmp_path):
    sch = dict(ablation.SCHEDULE, max_iters=40, warmup_iters=4,
               batch_size=16, text_tower='tiny')
    for v in ablation.ALL_VARIANTS:
        cfg = ablation.load_cfg(v, 3, sch, str(tmp_path))
        assert cfg.train_cfg.max_iters == 40
        assert cfg.train_cfg.val_interval == 41
        assert cfg.randomness.seed == 3
        assert cfg.param_scheduler[0]['end'] == 4
        assert cfg.param_scheduler[1]['end'] == 40
        assert cfg.default_hooks.logger.interval == 4
        for name in ('cls', 'itc'):
            stream = cfg.train_dataloader.get(name)
            if stream is not None:
                assert stream.batch_size == 16
                assert stream.dataset.world.image_size == 32
        te = cfg.model.get('text_encoder')
        if te is not None:
            assert te.type == 'CachedFrozenTextEncoder'
            assert te.config == ablation.TINY_TEXT
            assert te.tokenizer == 'byte'
    with pytest.raises(KeyError, match='unknown variant'):
        ablation.load_cfg('icar_xl', 0, sch, str(tmp_path))
    with pytest.raises(ValueError, match='write a config file'):
        ablation.load_cfg('icar', 0, dict(sch, image_size=64),
                          str(tmp_path))


def test_schedule_key_of_the_reported_runs_is_unchanged():
    from ablation_eval import DEFAULT_EVAL_SIZES
    with open(osp.join(REPO, 'docs', 'ablation', 'ablation.json')) as f:
        report = json.load(f)
    assert report['schedule'] == ablation.SCHEDULE
    key = ablation.schedule_key(ablation.SCHEDULE, DEFAULT_EVAL_SIZES)
    assert {r['key'] for r in report['runs']} == {key}


def test_plan_runs_seed_major_controls_after_first_seed():
    runs = ablation.plan_runs(['linear', 'icar', 'clip'], [0, 1],
                              ['icar_random_text'])
    assert runs == [('icar', 0), ('clip', 0), ('linear', 0),
                    ('icar_random_text', 0), ('icar', 1), ('clip', 1),
                    ('linear', 1)]


def test_parse_args_rejects_bad_input():
    with pytest.raises(SystemExit):
        ablation.parse_args(['--threads', '4'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--cfg-options', 'model.x=1'])


def _result(variant, seed, **metrics):
    base = {m: 50. for m in METRICS}
    base.update(metrics)
    return dict(variant=variant, seed=seed, metrics=base, cpu_s=1.,
                wall_s=1., train_wall_s=1.)


def test_aggregate_and_claims():
    results = [_result('icar', s, seen_top1=v) for s, v in
               enumerate([80., 82., 84.])]
    results += [_result('linear', s, seen_top1=v, zs_names=None)
                for s, v in enumerate([70., 71., 75.])]
    summary = ablation_report.aggregate(results)
    e = summary['icar']['seen_top1']
    assert e['mean'] == pytest.approx(82.) and e['std'] == pytest.approx(2.)
    assert summary['linear']['zs_names']['mean'] is None
    d = ablation_report._diff(summary, 'icar', 'linear', 'seen_top1')
    assert d['mean'] == pytest.approx(np.mean([10., 11., 9.]))
    assert d['wins'] == 3 and ablation_report.verdict(d) == 'holds'
    assert ablation_report.verdict(
        dict(mean=-5., std=1., n=3, wins=0)) == 'fails'
    assert ablation_report.verdict(
        dict(mean=3., std=4., n=3, wins=2)) == 'unclear'
    with pytest.raises(ValueError, match='percentage'):
        ablation_report.aggregate([_result('icar', 0, seen_top1=0.8e3)])


def test_update_readme_replaces_between_markers(tmp_path):
    path = tmp_path / 'README.md'
    path.write_text('# t\n\nbody\n')
    sec = (ablation_report.README_START + '\n## Does deep fusion help?\n'
           'one\n' + ablation_report.README_END + '\n')
    ablation_report.update_readme(str(path), sec)
    ablation_report.update_readme(str(path), sec.replace('one', 'two'))
    text = path.read_text()
    assert text.count('## Does deep fusion help?') == 1
    assert 'two' in text and 'one' not in text and text.startswith('# t')


def test_texture_size_task_labels_follow_the_scenes():
    from ablation_eval import TEXTURE_SIZE_CLASSES, texture_size_dataset
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    world = SyntheticWorld(0, 32)
    ds = texture_size_dataset(world, 3, 'train')
    labels = np.array([ds.get_data_info(i)['gt_label']
                       for i in range(len(ds))])
    counts = np.bincount(labels, minlength=len(TEXTURE_SIZE_CLASSES))
    assert len(set(counts)) == 1 and counts[0] > 0  # balanced
    # labels are texture x size, not the pretraining (colour, shape) labels
    scenes = [sc for sc, _ in world.classification_scenes(
        'all', 3, seed=11, stream='texture_size_train')]
    for i in (0, 1, 5):
        name = TEXTURE_SIZE_CLASSES[labels[i]]
        first = next(sc for sc in scenes if '{texture} {size}'.format(
            **sc['objects'][0]) == name)
        assert np.array_equal(ds.get_data_info(i)['img'],
                              world.render(first)['img'])
