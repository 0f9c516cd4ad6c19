"""tools/experiments/ablation.py: the smoke ablation runs and writes a
well-formed report; the variants' config files, caching, aggregation and
README update."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from repo_paths import REPO_ROOT as REPO  # noqa: E402
TOOL_DIR = osp.join(REPO, 'tools', 'experiments')
if TOOL_DIR not in sys.path:
    sys.path.insert(0, TOOL_DIR)

import ablation  # noqa: E402
import ablation_report  # noqa: E402
from ablation_report import METRICS  # noqa: E402


def _run(args, timeout=900):
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
    proc = _run(args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
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
    # the schedule's AmpOptimWrapper became CPU bfloat16 autocast, logged
    for variant in ('linear', 'icar'):
        log = open(osp.join(work, variant, 'seed0', 'run.log')).read()
        assert 'bfloat16 autocast on the CPU instead ' \
            '(CPUBF16AmpOptimWrapper)' in log
        # and stays bfloat16 on a CPU without it natively (the schedule's
        # precision on every machine): set in the config the run logs
        assert "allow_emulated=True" in log
        assert 'trains in FLOAT32' not in log
    # each run records whose kernels computed its bfloat16 matmuls
    from icar_mm.utils.setup_env import has_native_cpu_bf16
    assert {r['bf16_gemm'] for r in report['runs']} == {
        'native' if has_native_cpu_bf16() else 'float32'}
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
    'unicl': 'baselines/unicl_resnet18-minilm_1xb64_synthetic-world.py',
    'icar_sigmoid': 'baselines/icar-sigmoid_resnet18-minilm_1xb64_'
                    'synthetic-world.py',
    'icar_separate_proj': 'baselines/icar-separate-proj_resnet18-minilm_'
                          '1xb64_synthetic-world.py',
    'icar_detached_weights': 'baselines/icar-detached-weights_resnet18-'
                             'minilm_1xb64_synthetic-world.py',
}


#: the rows that inherit a swept variant's config and so its sweep's best
SWEEP_FAMILIES = {
    'icar': ('icar', 'icar_names', 'icar_sigmoid', 'icar_separate_proj',
             'icar_detached_weights', 'icar_random_text'),
    'shallow': ('shallow', ),
    'cosine': ('cosine', ),
}


def _swept_keys():
    import ablation_sweep
    return {key for grid in ablation_sweep.SWEEP.values()
            for key, _ in grid.values()}


def test_rows_hold_their_sweeps_best():
    """Each swept variant's file holds its sweep's best once every setting
    of it has run (docs/ablation/sweep.json), and the rows that inherit it
    hold the same values: no row is compared at a setting that suits only
    another."""
    import ablation_sweep
    from mmengine.config import Config
    assert set(SWEEP_FAMILIES) == set(ablation_sweep.SWEEP)
    sweep = json.load(open(osp.join(REPO, 'docs/ablation/sweep.json')))
    for variant, family in SWEEP_FAMILIES.items():
        own = ablation_sweep.config_values(variant)
        if sweep.get('complete', {}).get(variant):
            assert own == sweep['best'][variant]['values'], variant
        for member in family:
            cfg = Config.fromfile(osp.join(
                REPO, ablation.ALL_VARIANTS[member][0]))
            for name, (key, _) in ablation_sweep.SWEEP[variant].items():
                assert ablation_sweep.config_value(cfg, key) == own[name], (
                    member, key)


def _streams(cfg):
    return {k for k, v in cfg.train_dataloader.items() if v is not None}


def test_config_files_are_their_baselines_under_the_schedule(tmp_path):
    import ablation_sweep
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
        assert cfg.train_cfg.max_iters == ablation.SCHEDULE['max_iters']
        # bfloat16 autocast (AmpOptimWrapper) and the fused AdamW
        assert ablation.SCHEDULE['precision'] == 'bf16'
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'bfloat16'
        assert cfg.optim_wrapper.optimizer.fused is True
        assert cfg.optim_wrapper.optimizer.lr == ablation.SCHEDULE['lr']
        assert cfg.val_cfg is None and cfg.default_hooks.checkpoint is None
        # the same model and streams as the baseline, but the text tower
        # and the swept values (the config holds its sweep's best)
        base = Config.fromfile(osp.join(REPO, 'configs/icar', BASELINES[v]))
        for key in _swept_keys():
            value = ablation_sweep.config_value(cfg, key)
            if value is not None:
                base.merge_from_dict({key: value})
        te = cfg.model.pop('text_encoder')
        base_te = base.model.pop('text_encoder')
        assert cfg.model.to_dict() == base.model.to_dict(), v
        assert _streams(cfg) == _streams(base), v
        if base_te is None:
            assert te is None
            continue
        # the whole tower trains: nothing frozen, no random fallback
        assert te.type == 'TextEncoder'
        assert not te.get('frozen_layers') and not te.get('freeze_embeddings')
        assert te.max_length == base_te.max_length
        text_lr = cfg.optim_wrapper.paramwise_cfg.custom_keys[
            'text_encoder.model'].lr_mult
        assert text_lr == 0.02  # the random tower's too (it collapses at 1)
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
            assert te.type == 'TextEncoder'
            assert te.config == ablation.TINY_TEXT
            assert te.tokenizer == 'byte'
    with pytest.raises(KeyError, match='unknown variant'):
        ablation.load_cfg('icar_xl', 0, sch, str(tmp_path))
    with pytest.raises(ValueError, match='write a config file'):
        ablation.load_cfg('icar', 0, dict(sch, image_size=64),
                          str(tmp_path))
    with pytest.raises(ValueError, match='precision'):
        ablation.load_cfg('icar', 0, dict(sch, precision='fp32'),
                          str(tmp_path))


def test_schedule_key_of_the_reported_runs_is_unchanged():
    from ablation_eval import DEFAULT_EVAL_SIZES
    with open(osp.join(REPO, 'docs', 'ablation', 'ablation.json')) as f:
        report = json.load(f)
    assert report['schedule'] == ablation.SCHEDULE
    key = ablation.schedule_key(ablation.SCHEDULE, DEFAULT_EVAL_SIZES)
    # a main run's key; or a tagged run (a sweep's best, now the file's
    # setting: the config check below) of the same schedule
    assert {r['key'] for r in report['runs'] if not r.get('tag')} <= {key}
    assert {ablation.schedule_key(r['schedule'], r['eval_sizes'])
            for r in report['runs']} == {key}
    # every reported run with a text tower trained its transformer body,
    # from its config file as it is now
    for r in report['runs']:
        assert r['config'] == ablation.config_fingerprint(r['variant']), (
            f"configs/ablation/{r['variant']}.py changed since its seed "
            f"{r['seed']} ran: rerun tools/experiments/ablation.py")
        has_text = r['metrics']['retrieval_r1'] is not None
        assert (r['text_body'] is not None) == has_text, r['variant']
        if has_text:
            assert r['text_body']['trained'], r['variant']
            assert r['text_body']['max_abs_change'] > 0


def test_plan_runs_seed_major_controls_in_every_seed():
    runs = ablation.plan_runs(['linear', 'icar', 'clip'], [0, 1],
                              ['icar_random_text'])
    assert runs == [('icar', 0), ('clip', 0), ('linear', 0),
                    ('icar_random_text', 0), ('icar', 1), ('clip', 1),
                    ('linear', 1), ('icar_random_text', 1)]


def test_text_body_change_is_recorded(tmp_path):
    from icar_mm.registry import MODELS
    from tiny_models import TINY_TEXT
    import torch
    model = MODELS.build(dict(
        type='ICAR', backbone=dict(type='ResNet', depth=18, stem_channels=8,
                                   base_channels=8),
        feat_channels=64, embed_dim=8,
        text_encoder=dict(config=TINY_TEXT, tokenizer='byte'),
        itc_loss=dict(type='ContrastiveLoss')))
    before = ablation._text_body(model)
    unchanged = ablation._text_body_change(before, ablation._text_body(model))
    assert not unchanged['trained'] and unchanged['tensors_changed'] == 0
    with torch.no_grad():
        for p in model.text_encoder.model.parameters():
            p.add_(1e-3)
    changed = ablation._text_body_change(before, ablation._text_body(model))
    assert changed['trained'] and changed['max_abs_change'] == \
        pytest.approx(1e-3, rel=1e-3)
    model.text_encoder = None
    assert ablation._text_body(model) is None
    assert ablation._text_body_change(None, None) is None


def test_a_collapsed_text_tower_is_recorded_and_reported(monkeypatch):
    import torch
    import ablation_report
    from icar_mm.class_texts import ClassTextBank
    from icar_mm.registry import MODELS
    from tiny_models import TINY_TEXT
    spread = ablation.class_weight_spread(torch.eye(4))
    assert spread == dict(cos_mean=0., cos_max=0., collapsed=False)
    one = torch.nn.functional.normalize(torch.ones(3, 5), dim=-1)
    assert ablation.class_weight_spread(one)['collapsed']
    seen_bank = dict(source=dict(type='synthetic_world', split='seen'),
                     templates='synthetic-world')
    tower = dict(text_encoder=dict(config=TINY_TEXT, tokenizer='byte'),
                 itc_loss=dict(type='ContrastiveLoss'))
    backbone = dict(type='ResNet', depth=18, stem_channels=8,
                    base_channels=8)
    bank = dict(classes=['red circle', 'blue square', 'cat'],
                templates=['a photo of a {}.'], use_descriptions=False)
    # an iCAR head's classifier, and a CLIP model's zero-shot one: the
    # eval-mode ensemble of the bank (the seen classes' 26 by default)
    for head in (dict(cls_head=dict(type='TextMetaClassifier',
                                    classifier=dict(class_texts=bank))), {}):
        model = MODELS.build(dict(type='ICAR', backbone=backbone,
                                  feat_channels=64, embed_dim=8, **tower,
                                  **head)).train()
        spread = ablation._class_weight_spread(model, bank)
        assert model.training  # put back in its mode
        seen = ablation._class_weight_spread(model)
        model.eval()
        with torch.no_grad():
            assert spread == ablation.class_weight_spread(
                model.text_classifier.ensemble(bank))
            assert len(ClassTextBank(**seen_bank)) == 26
            assert seen == ablation.class_weight_spread(
                model.text_classifier.ensemble(seen_bank))
    monkeypatch.setattr(type(model.text_classifier), 'ensemble',
                        lambda self, bank=None: one)
    assert ablation._class_weight_spread(model)['collapsed']
    linear = MODELS.build(dict(
        type='ICAR', backbone=backbone, feat_channels=64, embed_dim=8,
        cls_on_projection=False, cls_head=dict(
            type='LinearClsHead', num_classes=3, in_channels=64)))
    assert ablation._class_weight_spread(linear) is None
    runs = [dict(variant='icar', seed=0, metrics=dict(retrieval_r1=1.),
                 text_body=dict(trained=True),
                 text_spread=dict(collapsed=False)),
            dict(variant='icar_random_text', seed=0,
                 metrics=dict(retrieval_r1=0.2), text_body=dict(trained=True),
                 text_spread=dict(collapsed=True))]
    summary = ablation_report._text_body_summary(runs)
    assert summary.startswith('2 of 2 runs with a text tower')
    assert 'collapsed' in summary and '`icar_random_text` seed 0' in summary
    assert 'collapsed' not in ablation_report._text_body_summary(runs[:1])


class _Killed(Exception):
    """The invocation of an attempt dies (a session ends, a job is killed)."""


def test_a_cut_short_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """An attempt killed after iteration 3 of 4 (its last checkpoint is
    iteration 2's) is resumed by the next launch: the same weights and
    figures as the run never cut short, its CPU time carried over."""
    import torch
    threads = torch.get_num_threads()  # run_one sets 1: restored below
    try:
        _cut_short_run_resumes(tmp_path, monkeypatch)
    finally:
        torch.set_num_threads(threads)


def _cut_short_run_resumes(tmp_path, monkeypatch):
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    schedule = dict(ablation.SMOKE_SCHEDULE, max_iters=4, text_tower='tiny')
    sizes = ablation.SMOKE_EVAL_SIZES

    def run(name, cpu_s, cfg_options=None):
        # each attempt's process has used cpu_s CPU seconds
        monkeypatch.setattr(ablation, '_cpu_s', lambda: cpu_s)
        return ablation.run_one('icar', 0, schedule, sizes,
                                str(tmp_path / name), 1,
                                cfg_options=cfg_options, save_weights=True,
                                probe_seeds=(0, ), checkpoint_interval=2)

    whole = run('whole', 50.)
    assert 'resumed_from_iter' not in whole and whole['cpu_s'] == 50.

    class KillAfterIteration3(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if runner.iter + 1 == 3:
                raise _Killed

    from_cfg = Runner.from_cfg

    def from_cfg_killed(cfg):
        runner = from_cfg(cfg)
        runner.register_hook(KillAfterIteration3(), priority='LOWEST')
        return runner

    def cut_short(name, cfg_options=None):
        monkeypatch.setattr(Runner, 'from_cfg', from_cfg_killed)
        with pytest.raises(_Killed):
            run(name, 30., cfg_options)
        monkeypatch.setattr(Runner, 'from_cfg', from_cfg)
        assert not (tmp_path / name / 'result.json').exists()
        assert open(tmp_path / name / 'last_checkpoint').read().strip(
        ).endswith('iter_2.pth')

    cut_short('cut')
    cut = tmp_path / 'cut'
    resumed = run('cut', 20.)
    assert resumed['resumed_from_iter'] == 2
    assert resumed['cpu_s'] == 30. + 20.  # both attempts
    # training went on exactly where it stopped
    w_whole = torch.load(tmp_path / 'whole' / 'model.pth')
    w_resumed = torch.load(cut / 'model.pth')
    assert w_whole.keys() == w_resumed.keys()
    for k in w_whole:
        assert torch.equal(w_whole[k], w_resumed[k]), k
    for m in ('seen_top1', 'zs_described', 'retrieval_r1'):
        assert resumed['metrics'][m] == whole['metrics'][m]
    # the checkpoints are gone once the run has its result
    assert not list(cut.glob('iter_*.pth'))
    assert not (cut / 'last_checkpoint').exists()
    log = open(sorted(cut.glob('*/*.log'))[-1]).read()
    assert 'icar seed 0: resumed from iteration 2' in log
    assert 'resume checkpoints are removed; its weights: model.pth' in log

    # an attempt of another config (lambda 2) is not resumed: the run
    # trains from the start, says so in its log, and is the whole run
    cut_short('other', {'model.itc_loss.loss_weight': 2.0})
    fresh = run('other', 40.)
    assert 'resumed_from_iter' not in fresh and fresh['cpu_s'] == 40.
    w_fresh = torch.load(tmp_path / 'other' / 'model.pth')
    for k in w_whole:
        assert torch.equal(w_whole[k], w_fresh[k]), k
    log = open(sorted((tmp_path / 'other').glob('*/*.log'))[-1]).read()
    assert 'icar seed 0: not resumed, trained from the start' in log


def test_committed_runs_resume_a_fresh_checkout(tmp_path, monkeypatch):
    docs = tmp_path / 'docs'
    docs.mkdir()
    run = dict(variant='icar', seed=1, key='k1', metrics={})
    tagged = dict(run, tag='lam2', key='k2')
    (docs / 'ablation.json').write_text(json.dumps(dict(runs=[run])))
    (docs / 'sweep.json').write_text(json.dumps(dict(runs=[tagged])))
    monkeypatch.setattr(ablation, 'DOCS', str(docs))
    work = tmp_path / 'work'
    assert ablation._load_result(str(work / 'icar' / 'seed1'), 'k1') == run
    assert ablation._load_result(str(work / 'icar' / 'seed1'), 'k2') is None
    assert ablation._load_result(str(work / 'icar' / 'seed0'), 'k1') is None
    assert ablation._load_result(
        str(work / 'icar+lam2' / 'seed1'), 'k2') == tagged
    # a local result.json of the key wins; one of another key falls back
    local = work / 'icar' / 'seed1'
    local.mkdir(parents=True)
    (local / 'result.json').write_text(json.dumps(dict(run, cpu_s=5.)))
    assert ablation._load_result(str(local), 'k1')['cpu_s'] == 5.
    (local / 'result.json').write_text(json.dumps(dict(run, key='old')))
    assert ablation._load_result(str(local), 'k1') == run


def test_a_run_of_another_config_version_is_not_cached(
        tmp_path, monkeypatch):
    docs = tmp_path / 'docs'
    docs.mkdir()
    run = dict(variant='icar', seed=0, key='k1', config='c1', metrics={})
    (docs / 'ablation.json').write_text(json.dumps(dict(runs=[run])))
    monkeypatch.setattr(ablation, 'DOCS', str(docs))
    wd = str(tmp_path / 'work' / 'icar' / 'seed0')
    assert ablation._load_result(wd, 'k1', 'c1') == run
    assert ablation._load_result(wd, 'k1', 'c2') is None
    assert ablation._stale(wd, 'k1', 'c2') and not ablation._stale(
        wd, 'k1', 'c1')
    assert not ablation._stale(wd, 'k2', 'c2')  # no run of that schedule


def test_config_fingerprint_follows_the_config_file(tmp_path, monkeypatch):
    icar = osp.join(REPO, ablation.ALL_VARIANTS['icar'][0])
    same = tmp_path / 'same.py'
    same.write_text(f'_base_ = {icar!r}\n')
    tuned = tmp_path / 'tuned.py'
    tuned.write_text(f'_base_ = {icar!r}\n'
                     'model = dict(itc_loss=dict(loss_weight=2.0))\n')
    logged = tmp_path / 'logged.py'  # what is logged does not train
    logged.write_text(f'_base_ = {icar!r}\n'
                      'default_hooks = dict(logger=dict(interval=1))\n')
    monkeypatch.setattr(ablation, 'ALL_VARIANTS', dict(
        ablation.ALL_VARIANTS, same=(str(same), ''),
        tuned=(str(tuned), ''), logged=(str(logged), '')))
    ablation._fingerprint.cache_clear()
    try:
        base = ablation.config_fingerprint('icar')
        assert ablation.config_fingerprint('same') == base
        assert ablation.config_fingerprint('logged') == base
        assert ablation.config_fingerprint('tuned') != base
        # a run of the file with the tuned value trained the tuned config
        assert ablation.config_fingerprint(
            'icar', {'model.itc_loss.loss_weight': 2.0}) == \
            ablation.config_fingerprint('tuned')
        assert ablation.config_fingerprint('icar', {}) == base
    finally:
        ablation._fingerprint.cache_clear()


def test_sweep_grid_and_curve_tags():
    import ablation_sweep
    icar = ablation_sweep.settings('icar')
    assert len(icar) == 9
    # the config file's own setting (its sweep's best) is the main run's
    assert ablation_sweep.config_values('icar') == dict(lam=0.5, tau=0.1)
    main = [s for s in icar if s['main']]
    assert main == [dict(
        values=dict(lam=0.5, tau=0.1), tag='lam0p5-tau0p1', main=True,
        cfg_options={'model.itc_loss.loss_weight': 0.5,
                     'model.cls_head.classifier.tau': 0.1})]
    one = next(s for s in icar if s['tag'] == 'lam1-tau0p05')
    assert one['cfg_options'] == {'model.itc_loss.loss_weight': 1.0,
                                  'model.cls_head.classifier.tau': 0.05}
    assert not one['main']
    shallow = ablation_sweep.settings('shallow')
    assert [(s['tag'], s['main']) for s in shallow] == [
        ('lam0p5', False), ('lam1', True), ('lam2', False)]
    cosine = ablation_sweep.settings('cosine')
    assert [(s['tag'], s['main']) for s in cosine] == [
        ('tau0p03', True), ('tau0p05', False), ('tau0p1', False)]
    # the options apply to the variants' configs
    for variant in ablation_sweep.SWEEP:
        for s in ablation_sweep.settings(variant):
            cfg = ablation.load_cfg(variant, 0, ablation.SCHEDULE, 'w')
            before = cfg.model.to_dict()
            cfg.merge_from_dict(s['cfg_options'])
            if variant == 'cosine':
                assert cfg.model.cls_head.tau == s['values']['tau']
            else:
                assert cfg.model.itc_loss.loss_weight == s['values']['lam']
            if variant == 'icar':
                assert cfg.model.cls_head.classifier.tau == \
                    s['values']['tau']
            # an option sets a value the model has (no new key)
            assert set(_flat(cfg.model.to_dict())) == set(_flat(before))
    # a config that lost a swept key is an error naming the file and key
    assert ablation_sweep.config_value(cfg, 'model.no_such.key') is None
    with pytest.raises(KeyError, match='has no model.itc_loss.loss_weight'):
        with pytest.MonkeyPatch.context() as mp:
            mp.setitem(ablation_sweep.SWEEP, 'linear', dict(
                lam=('model.itc_loss.loss_weight', (1.0, ))))
            ablation_sweep.config_values('linear')
    assert ablation_sweep._curve_tag(ablation.SCHEDULE['max_iters']) is None
    assert ablation_sweep._curve_tag(100) == 'iters100'
    # the command of a setting is an investigation of ablation.py
    args = ablation.argparse.Namespace(work_dir='w', threads=1)
    cmd = ablation_sweep._invocation('icar', 0, one['tag'],
                                     one['cfg_options'], args)
    parsed = ablation.parse_args(cmd[2:])
    assert parsed.tag == 'lam1-tau0p05'
    assert parsed.cfg_options == one['cfg_options']


def _flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f'{prefix}{k}.'))
        else:
            out[prefix + k] = v
    return out


def _finished(work, variant, tag, key, config, seen_top1):
    """A result.json as ablation.py writes it."""
    from ablation_eval import DEFAULT_EVAL_SIZES
    run = dict(variant=variant, seed=0, key=key, config=config, cpu_s=1.,
               tag=tag, schedule=ablation.SCHEDULE,
               eval_sizes=DEFAULT_EVAL_SIZES, metrics=dict(
                   {m: 1. for m in METRICS}, seen_top1=seen_top1))
    wd = work / (f'{variant}+{tag}' if tag else variant) / 'seed0'
    wd.mkdir(parents=True)
    (wd / 'result.json').write_text(json.dumps(run))
    return run


def test_analysis_reads_the_run_of_the_config_as_it_is(tmp_path,
                                                       monkeypatch):
    """The analysis reloads the weights of the run that trained the config
    file as it is now: the sweep's best (a tagged run) once the file holds
    its setting, never the earlier main run of another setting."""
    import ablation_analysis
    from ablation_eval import DEFAULT_EVAL_SIZES
    monkeypatch.setattr(ablation, 'DOCS', str(tmp_path / 'docs'))
    (tmp_path / 'docs').mkdir()
    work = tmp_path / 'work'
    key = ablation.schedule_key(ablation.SCHEDULE, DEFAULT_EVAL_SIZES)
    now = ablation.config_fingerprint('icar')
    # the main run of an earlier setting of the file
    _finished(work, 'icar', None, key, 'earlier', 80.)
    assert ablation_analysis.finished_run_dir(str(work), 'icar', 0) is None
    # the tagged run of the setting the file holds now
    options = {'model.itc_loss.loss_weight': 0.5}
    _finished(work, 'icar', 'best', ablation.schedule_key(
        dict(ablation.SCHEDULE, tag='best', cfg_options=options),
        DEFAULT_EVAL_SIZES), now, 90.)
    assert ablation_analysis.finished_run_dir(str(work), 'icar', 0) == str(
        work / 'icar+best' / 'seed0')
    assert ablation_analysis.finished_run_dir(str(work), 'icar', 1) is None
    # a main run of the file as it is
    main = work / 'icar' / 'seed0' / 'result.json'
    run = json.loads(main.read_text())
    main.write_text(json.dumps(dict(run, config=now)))
    assert ablation_analysis.finished_run_dir(str(work), 'icar', 0) == str(
        work / 'icar' / 'seed0')


def test_analysis_reads_an_investigation_run_with_its_options(tmp_path):
    """A tagged run named ``VARIANT+TAG`` (an investigation, e.g. shallow
    fusion with a cosine head) is analysed with the ``--cfg-options`` its
    result.json records, and only under the ablation schedule."""
    import ablation_analysis
    from ablation_eval import DEFAULT_EVAL_SIZES
    work = tmp_path / 'work'
    options = {'model.cls_head.type': 'CosineClsHead',
               'model.cls_head.tau': 0.1}
    key = ablation.schedule_key(
        dict(ablation.SCHEDULE, tag='cosinehead', cfg_options=options),
        DEFAULT_EVAL_SIZES)
    run = _finished(work, 'shallow', 'cosinehead', key, 'any', 80.)
    wd = work / 'shallow+cosinehead' / 'seed0'
    assert ablation_analysis.finished_run_dir(
        str(work), 'shallow+cosinehead', 0) is None  # no cfg_options
    (wd / 'result.json').write_text(json.dumps(dict(run,
                                                    cfg_options=options)))
    assert ablation_analysis.finished_run_dir(
        str(work), 'shallow+cosinehead', 0) == str(wd)
    assert ablation_analysis.finished_run_dir(
        str(work), 'shallow+cosinehead', 1) is None
    cfg = ablation_analysis._run_cfg('shallow+cosinehead', 0, str(wd))
    assert cfg.model.cls_head.type == 'CosineClsHead'
    assert cfg.model.cls_head.tau == 0.1
    assert ablation_analysis._run_cfg('shallow', 0, str(
        work / 'shallow' / 'seed0')).model.cls_head.type != 'CosineClsHead'
    # the same run under another schedule is not read
    other = dict(ablation.SCHEDULE, max_iters=400)
    (wd / 'result.json').write_text(json.dumps(dict(
        run, cfg_options=options, key=ablation.schedule_key(
            dict(other, tag='cosinehead', cfg_options=options),
            DEFAULT_EVAL_SIZES))))
    assert ablation_analysis.finished_run_dir(
        str(work), 'shallow+cosinehead', 0) is None


def test_analysis_markdown_lists_investigation_runs_with_their_figures():
    """Tagged runs (VARIANT+TAG) are not rows of the ablation's table, so
    the analysis reports their own figures, mean ± std over seeds, with the
    options they trained."""
    import ablation_analysis
    joint = {k: 0.5 for k in ablation_analysis.JOINT_SPACE}
    split = {vocab: dict(nonce=1., informative=2., all=3.)
             for vocab in ('names', 'described')}

    def run(r1):
        return dict(split, joint_space=joint, run=dict(
            tag='cosinehead', cfg_options={'model.cls_head.tau': 0.1},
            cpu_s=1., metrics=dict({m: 50. for m in METRICS},
                                   retrieval_r1=r1, zs_names=None)))

    plain = ablation_analysis.markdown({'icar': {'0': dict(
        split, joint_space=joint)}})
    assert 'investigation runs' not in plain
    md = ablation_analysis.markdown({
        'icar': {'0': dict(split, joint_space=joint)},
        'shallow+cosinehead': {'0': run(20.), '1': run(22.)}})
    row = [line for line in md.splitlines()
           if line.startswith('| `shallow+cosinehead` | 2 |')]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip('|').split('|')]
    assert cells[2] == '`model.cls_head.tau=0.1`'
    titles = list(ablation_report.METRICS)
    assert cells[3 + titles.index('retrieval_r1')] == '21.0 ± 1.4'
    assert cells[3 + titles.index('zs_names')] == 'n/a'
    assert cells[3 + titles.index('seen_top1')] == '50.0 ± 0.0'


def test_sweep_report_scores_best_and_completeness(tmp_path, monkeypatch):
    """The best setting maximises the mean of seen top-1 and described
    zero-shot (the cosine head, without zero-shot: its seen top-1), a tie
    goes to the higher mean of the other metrics; a variant is complete
    when every setting has its run, and the Markdown says whether a best
    is final."""
    import ablation_sweep
    seen = {('icar', 'lam0p5-tau0p1'): 80., ('icar', 'lam1-tau0p05'): 70.,
            ('cosine', 'tau0p03'): 60., ('cosine', 'tau0p05'): 65.,
            ('cosine', 'tau0p1'): 65.}

    def fake(variant, setting, work_dir):
        value = seen.get((variant, setting['tag']))
        if value is None:
            return None
        text = variant != 'cosine'
        # tau 0.1 ties tau 0.05 on the score and transfers better
        probe = 5. if setting['tag'] == 'tau0p1' else 1.
        return dict(variant=variant, cpu_s=2., metrics=dict(
            {m: 1. for m in METRICS}, seen_top1=value, linear_probe=probe,
            zs_described=(100. - value) * 2 if text else None))

    monkeypatch.setattr(ablation_sweep, 'setting_result', fake)
    monkeypatch.setattr(ablation, 'DOCS', str(tmp_path))
    report = ablation_sweep.sweep_report('unused')
    scores = {(r['variant'], r['tag']): r['score'] for r in report['rows']}
    assert scores == {('icar', 'lam0p5-tau0p1'): 60.,
                      ('icar', 'lam1-tau0p05'): 65.,
                      ('cosine', 'tau0p03'): 60., ('cosine', 'tau0p05'): 65.,
                      ('cosine', 'tau0p1'): 65.}
    own = ablation_sweep.config_values
    assert report['best'] == dict(
        icar=dict(values=dict(lam=1.0, tau=0.05), tag='lam1-tau0p05',
                  main=own('icar') == dict(lam=1.0, tau=0.05)),
        cosine=dict(values=dict(tau=0.1), tag='tau0p1',
                    main=own('cosine') == dict(tau=0.1)))
    assert report['complete'] == dict(icar=False, shallow=False,
                                      cosine=True)
    assert report['cpu_s'] == 10.
    md = (tmp_path / 'sweep.md').read_text()
    assert '| `icar` | lam = 1, tau = 0.05 **(best so far)** |' in md
    assert '| `cosine` | tau = 0.1 **(best)** |' in md
    assert json.load(open(tmp_path / 'sweep.json'))['complete'] == \
        report['complete']


def test_sweep_rows_survive_writing_the_best_into_the_config(
        tmp_path, monkeypatch):
    """The main run (lambda 1) and a tagged run (lambda 2) are found by the
    config they trained, before and after lambda 2 is written into the
    file: the rows keep their runs, and the main seed-0 run of the new
    file is the tagged run's config."""
    import ablation_sweep
    from ablation_eval import DEFAULT_EVAL_SIZES
    shallow = osp.join(REPO, ablation.ALL_VARIANTS['shallow'][0])
    tuned = tmp_path / 'shallow_tuned.py'
    tuned.write_text(f'_base_ = {shallow!r}\n'
                     'model = dict(itc_loss=dict(loss_weight=2.0))\n')
    monkeypatch.setattr(ablation, 'DOCS', str(tmp_path / 'docs'))
    (tmp_path / 'docs').mkdir()
    work = tmp_path / 'work'
    main_key = ablation.schedule_key(ablation.SCHEDULE, DEFAULT_EVAL_SIZES)
    lam2 = next(s for s in ablation_sweep.settings('shallow')
                if s['values'] == dict(lam=2.0))
    tagged_key = ablation.schedule_key(dict(
        ablation.SCHEDULE, tag=lam2['tag'], cfg_options=lam2['cfg_options']),
        DEFAULT_EVAL_SIZES)
    main = _finished(work, 'shallow', None, main_key,
                     ablation.config_fingerprint('shallow'), 10.)
    tagged = _finished(work, 'shallow', lam2['tag'], tagged_key,
                       ablation.config_fingerprint(
                           'shallow', lam2['cfg_options']), 20.)

    def rows():
        report = ablation_sweep.sweep_report(str(work))
        return {r['tag']: (r['main'], r['metrics']['seen_top1'])
                for r in report['rows'] if r['variant'] == 'shallow'}

    assert rows() == {'lam1': (True, 10.), 'lam2': (False, 20.)}
    # lambda 2 written into the file
    monkeypatch.setitem(ablation.ALL_VARIANTS, 'shallow',
                        (str(tuned), ''))
    ablation._fingerprint.cache_clear()
    try:
        assert ablation_sweep.config_values('shallow') == dict(lam=2.0)
        assert rows() == {'lam1': (False, 10.), 'lam2': (True, 20.)}
        # the file now trains what the tagged run trained, not the main run
        assert ablation.config_fingerprint('shallow') == tagged['config']
        assert ablation.config_fingerprint(
            'shallow', {'model.itc_loss.loss_weight': 1.0}) == main['config']
        # so ablation.py takes it as the file's seed-0 run (no retraining)
        wd = str(work / 'shallow' / 'seed0')
        twin = ablation._load_result(
            wd, main_key, ablation.config_fingerprint('shallow'))
        # with its end time, for the report's concurrency and span
        assert twin.pop('finished_at') == osp.getmtime(
            work / 'shallow+lam2' / 'seed0' / 'result.json')
        assert twin == tagged
        assert not ablation._stale(wd, main_key,
                                   ablation.config_fingerprint('shallow'))
        # not under another schedule, nor for another seed
        assert ablation._load_result(
            wd, 'other', ablation.config_fingerprint('shallow')) is None
        assert ablation._load_result(
            str(work / 'shallow' / 'seed1'), main_key,
            ablation.config_fingerprint('shallow')) is None
    finally:
        ablation._fingerprint.cache_clear()


def test_lr_study_tags_commands_and_report(tmp_path, monkeypatch):
    import ablation_sweep
    runs = {v: ablation_sweep._lr_runs(v) for v in ablation_sweep.LR_STUDY}
    assert [r[2] for r in runs['linear']] == [
        'lr0p001-iters1600', 'lr0p001', 'lr0p001-iters6400',
        'lr0p01-iters1600', 'lr0p01']
    assert runs['icar'] == [(1e-3, 3200, 'lr0p001',
                             {ablation_sweep.LR_KEY: 1e-3})]
    # the schedule's own rate is not part of the study (the curve has it)
    assert all(lr != ablation.SCHEDULE['lr'] for rs in runs.values()
               for lr, *_ in rs)
    # a command is an investigation of ablation.py that sets the rate
    args = ablation.argparse.Namespace(work_dir='w', threads=1)
    lr, n, tag, options = runs['linear'][0]
    cmd = ablation_sweep._invocation('linear', 0, tag, options, args,
                                     iters=ablation_sweep._iters(n))
    parsed = ablation.parse_args(cmd[2:])
    assert parsed.iters == 1600 and parsed.tag == tag
    cfg = ablation.load_cfg('linear', 0, ablation.SCHEDULE, 'w')
    cfg.merge_from_dict(parsed.cfg_options)
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    # the report: the study's runs beside the schedule rate's, by length
    metrics = dict(seen_top1=None, zs_names=None, zs_described=None,
                   linear_probe=20., few_shot_1=1., few_shot_4=2.,
                   retrieval_r1=None)
    seen = []

    def fake(variant, seed, tag, options, work_dir, iters=None):
        seen.append((variant, tag, iters))
        lr = options.get(ablation_sweep.LR_KEY, ablation.SCHEDULE['lr'])
        if variant == 'icar' and not options:
            return None  # the main run has not finished
        return dict(variant=variant, seed=seed, tag=tag, cpu_s=2.,
                    metrics=dict(metrics, seen_top1=1000 * lr))

    monkeypatch.setattr(ablation_sweep, '_result', fake)
    monkeypatch.setattr(ablation, 'DOCS', str(tmp_path))
    report = ablation_sweep.lr_report('unused')
    assert ('linear', 'iters1600', 1600) in seen
    assert ('linear', None, None) in seen  # 3200: the main run
    assert ('icar', None, None) in seen
    rows = [(r['variant'], r['lr'], r['iters']) for r in report['rows']]
    assert rows == [('linear', 1e-3, 1600), ('linear', 1e-3, 3200),
                    ('linear', 1e-3, 6400), ('linear', 3e-3, 1600),
                    ('linear', 3e-3, 3200), ('linear', 3e-3, 6400),
                    ('linear', 1e-2, 1600), ('linear', 1e-2, 3200),
                    ('icar', 1e-3, 3200)]
    assert report['cpu_s'] == 2. * 6  # the study's own runs only
    md = (tmp_path / 'lr_probe.md').read_text()
    assert '| `linear` | 0.003 (schedule) | 6400 | 3.0 | n/a | 20.0 |' in md


def test_sweep_rejects_a_variant_of_the_other_study():
    import ablation_sweep
    with pytest.raises(SystemExit):
        ablation_sweep.main(['sweep', '--variants', 'linear',
                             '--report-only'])


def test_curve_report_per_variant(tmp_path, monkeypatch):
    import ablation_sweep
    assert all(1600 in lengths for lengths in ablation_sweep.CURVES.values())
    metrics = dict(seen_top1=30., zs_names=None, zs_described=None,
                   linear_probe=20., few_shot_1=1., few_shot_4=2.,
                   retrieval_r1=None)

    def fake(variant, seed, tag, options, work_dir, iters=None):
        if variant == 'shallow' and iters != 1600:
            return None  # not run yet: left out
        text = dict(zs_described=50., retrieval_r1=3.) \
            if variant != 'linear' else {}
        return dict(variant=variant, seed=seed, tag=tag, cpu_s=1.,
                    metrics=dict(metrics, seen_top1=iters / 100., **text))

    monkeypatch.setattr(ablation_sweep, '_result', fake)
    monkeypatch.setattr(ablation, 'DOCS', str(tmp_path))
    report = ablation_sweep.curve_report('unused')
    assert [p['iters'] for p in report['curves']['linear']] == list(
        ablation_sweep.CURVES['linear'])
    assert report['curves']['shallow'] == [dict(
        iters=1600, seen_top1=16., zs_described=50., linear_probe=20.,
        retrieval_r1=3.)]
    assert report['cpu_s'] == len(ablation_sweep.CURVES['linear']) + 1 + \
        len(ablation_sweep.CURVES['icar'])
    md = (tmp_path / 'schedule_curve.md').read_text()
    assert '| `linear` | 3200 | 32.0 | n/a | 20.0 | n/a |' in md
    assert '| `icar` | 1600 | 16.0 | 50.0 | 20.0 | 3.0 |' in md
    assert (tmp_path / 'schedule_curve.png').stat().st_size > 0


def test_model_zoo_follows_the_report(tmp_path):
    import yaml
    from ablation_model_zoo import metafile, results_table
    results = [_result('icar', s, seen_top1=v) for s, v in
               enumerate([80., 82., 84.])]
    results.append(_result('linear', 0, zs_names=None, zs_described=None,
                           retrieval_r1=None))
    report = dict(schedule=ablation.SCHEDULE,
                  summary=ablation_report.aggregate(results))
    variants = dict(icar='iCAR', linear='linear', unicl='UniCL')
    meta = yaml.safe_load(metafile(report, variants))
    models = {m['Name']: m for m in meta['Models']}
    assert models['ablation_unicl']['Results'] is None
    assert models['ablation_icar']['Metadata']['Seeds'] == 3
    metrics = {(r['Task'], k): v for r in models['ablation_icar']['Results']
               for k, v in r['Metrics'].items()}
    assert metrics['Image Classification', 'Top 1 Accuracy'] == 82.0
    assert metrics['Linear Probe', 'Top 1 Accuracy'] == 50.0
    linear = [r['Task'] for r in models['ablation_linear']['Results']]
    assert 'Image-Text Retrieval' not in linear
    table = results_table(report, variants)
    assert '| `ablation_icar` | iCAR | 3 | 82.0 ± 2.0 |' in table
    assert 'not run yet' in table.splitlines()[-1]


def test_parse_args_rejects_bad_input():
    with pytest.raises(SystemExit):
        ablation.parse_args(['--threads', '4'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--cfg-options', 'model.x=1'])
    with pytest.raises(SystemExit):  # nothing to train
        ablation.parse_args(['--variants', '--controls'])
    # a control alone
    args = ablation.parse_args(['--variants', '--controls',
                                'icar_random_text', '--seeds', '1'])
    assert args.variants == [] and args.controls == ['icar_random_text']
    assert ablation.plan_runs(args.variants, args.seeds, args.controls) == [
        ('icar_random_text', 1)]


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
    equal = dict(mean=0.5, std=0.1, wins=2, kind='equal')
    assert ablation_report.verdict(dict(equal, n=3)) == 'holds'
    assert ablation_report.verdict(dict(equal, n=1)) == 'unclear'
    with pytest.raises(ValueError, match='percentage'):
        ablation_report.aggregate([_result('icar', 0, seen_top1=0.8e3)])
    # a pair whose runs' bfloat16 matmuls ran on different kernels is named
    kernels = {('icar', s): 'native' for s in range(3)}
    kernels.update({('linear', 0): 'native', ('linear', 1): 'float32',
                    ('linear', 2): 'native'})
    rows = ablation_report.claims(summary, kernels)
    first = rows[0]['comparisons'][0]
    assert (first['a'], first['b']) == ('icar', 'linear')
    assert first['mixed_kernels'] == [1]
    md = ablation_report.claims_markdown(rows)
    assert '| 3/3† | holds |' in md and 'float32 kernels' in md
    kernels[('linear', 1)] = 'native'
    md = ablation_report.claims_markdown(
        ablation_report.claims(summary, kernels))
    assert '†' not in md


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


def test_the_analysis_keeps_the_runs_whose_weights_are_elsewhere():
    """On a machine that trained only some runs, the committed analysis of
    the others is kept, the new ones replace theirs, the order is the
    variants' and the seeds'."""
    import ablation_analysis
    earlier = {'clip': {'0': dict(a=1)},
               'icar': {'0': dict(a=2), '1': dict(a=3)},
               'unicl': {'0': dict(a=4)}}
    results = {'icar': {'1': dict(a=30)}, 'clip': {'1': dict(a=10)}}
    kept = ablation_analysis.keep_earlier(results, earlier,
                                          ['clip', 'icar'], [0, 1])
    assert kept == ['clip seed 0', 'icar seed 0']
    assert results == {'clip': {'0': dict(a=1), '1': dict(a=10)},
                       'icar': {'0': dict(a=2), '1': dict(a=30)}}
    assert list(results) == ['clip', 'icar']
    assert list(results['clip']) == ['0', '1']


def test_joint_space_figures_from_their_definition():
    import ablation_analysis
    rng = np.random.default_rng(0)
    classes = np.array([0, 0, 1, 1, 2])

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    images = unit(rng.normal(size=(5, 8)))
    texts = unit(rng.normal(size=(5, 8)))
    out = ablation_analysis.joint_space_figures(images, texts, classes)
    best = [int(np.argmax(images[i] @ texts.T)) for i in range(5)]
    hits = [b == i for i, b in enumerate(best)]
    right = [classes[b] == classes[i] for i, b in enumerate(best)]
    assert out['i2t_r1'] == pytest.approx(100. * np.mean(hits))
    assert out['i2t_class_r1'] == pytest.approx(100. * np.mean(right))
    errors = [r for h, r in zip(hits, right) if not h]
    assert out['errors_right_class'] == pytest.approx(
        100. * np.mean(errors) if errors else 0.)
    own, other = [], []
    for i in range(5):
        cos = {}
        for c in (0, 1, 2):
            mean = images[classes == c].mean(0)
            cos[c] = float(images[i] @ (mean / np.linalg.norm(mean)))
        own.append(cos[classes[i]])
        other.append(np.mean([v for c, v in cos.items()
                              if c != classes[i]]))
    assert out['cos_own_class'] == pytest.approx(np.mean(own))
    assert out['cos_other_classes'] == pytest.approx(np.mean(other))
    text_own = []
    for i in range(5):
        mean = texts[classes == classes[i]].mean(0)
        text_own.append(float(texts[i] @ (mean / np.linalg.norm(mean))))
    assert out['text_cos_own_class'] == pytest.approx(np.mean(text_own))
    assert out['text_cos_own_class'] != pytest.approx(out['cos_own_class'])
    # a class-collapsed space whose captions name only the class: every
    # image finds a caption of its class, rarely its own
    onehot = np.eye(8)[classes]
    collapsed = ablation_analysis.joint_space_figures(onehot, onehot,
                                                      classes)
    assert collapsed['cos_own_class'] == pytest.approx(1.)
    assert collapsed['cos_other_classes'] == pytest.approx(0.)
    assert collapsed['text_cos_own_class'] == pytest.approx(1.)
    assert collapsed['i2t_class_r1'] == 100.
    assert collapsed['errors_right_class'] == 100.
    assert collapsed['i2t_r1'] == 60.  # the first of each class only


def test_retrieval_pairs_carry_their_classes():
    from ablation_eval import caption_retrieval_dataset
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    world = SyntheticWorld(seed=0, image_size=32)
    dataset = caption_retrieval_dataset(world, 6)
    pairs = world.caption_samples(6, seed=7)
    for i, (img, caption) in enumerate(pairs):
        assert np.array_equal(dataset.get_data_info(i)['img'], img)
        assert dataset.captions[i] == caption
    scenes = world.caption_scenes(6, seed=7)
    assert dataset.image_classes == [
        world.class_id(s['objects'][0]['colour'], s['objects'][0]['shape'])
        for s, _ in scenes]


def test_a_run_records_the_kernels_of_its_bfloat16_matmuls(monkeypatch):
    """On a CPU without native bfloat16 the schedule's runs compute their
    matmuls with float32 kernels (BF16GemmInFloat32) and say so in their
    result; a float32 wrapper records no bfloat16 at all."""
    import icar_mm.engine.optim_wrappers as optim_wrappers
    from icar_mm.engine import CPUBF16AmpOptimWrapper
    from mmengine.optim import OptimWrapper

    def wrapper(native, **kwargs):
        monkeypatch.setattr(optim_wrappers, 'has_native_cpu_bf16',
                            lambda: native)
        import icar_mm.utils.setup_env as setup_env
        monkeypatch.setattr(setup_env, 'has_native_cpu_bf16',
                            lambda: native)
        layer = torch.nn.Linear(2, 2)
        return CPUBF16AmpOptimWrapper(
            optimizer=torch.optim.SGD(layer.parameters(), lr=0.1), **kwargs)

    assert ablation.bf16_gemm(wrapper(True)) == 'native'
    assert ablation.bf16_gemm(wrapper(False, allow_emulated=True)) == \
        'float32'
    assert ablation.bf16_gemm(wrapper(
        False, allow_emulated=True, gemm_in_float32=False)) == 'torch-slow'
    assert ablation.bf16_gemm(wrapper(False)) is None  # float32 fallback
    assert ablation.bf16_gemm(OptimWrapper(
        torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1))) is None
