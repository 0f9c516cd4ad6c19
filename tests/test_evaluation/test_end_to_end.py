"""End to end on the synthetic world: the one command, few-shot, probes.

One tiny demo-config model is trained for a few iterations (module
fixture) and evaluated through ``tools/evaluate.py``, ``ZeroShotMetric``,
``ZeroShotEvalHook`` and the few-shot / linear-probe protocols.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import Runner

import icar_mm  # noqa: F401
from icar_mm.evaluation import (TextInitClassifierHook, ZeroShotEvalHook,
                                evaluate_linear_probe, linear_probe,
                                split_validation)

from repo_paths import load_tool  # noqa: E402
from tiny_models import small_demo_cfg  # noqa: E402


evaluate_tool = load_tool('tools/evaluate.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, single_thread):
    work = tmp_path_factory.mktemp('demo')
    loader0 = dict(num_workers=0, persistent_workers=False)
    cfg = small_demo_cfg(
        str(work), 8, **{
            'default_hooks.checkpoint.interval': 8,
            'optim_wrapper.optimizer.lr': 2e-3,
            'train_dataloader.cls.num_workers': 0,
            'train_dataloader.cls.persistent_workers': False,
            'train_dataloader.itc.num_workers': 0,
            'train_dataloader.itc.persistent_workers': False,
            'val_dataloader.num_workers': 0,
            'val_dataloader.dataset.num_per_class': 6,
            'test_dataloader': dict(
                batch_size=30, sampler=dict(type='DefaultSampler',
                                            shuffle=False),
                dataset=dict(type='SyntheticWorldClsDataset',
                             split='heldout', num_per_class=6,
                             world=dict(seed=0, image_size=32), seed=2,
                             pipeline=[dict(type='PackInputs')]),
                **loader0),
        })
    runner = Runner.from_cfg(cfg)
    runner.train()
    cfg_path = str(work / 'cfg.py')
    cfg.dump(cfg_path)
    yield dict(runner=runner, cfg=cfg, cfg_path=cfg_path,
               ckpt=str(work / 'iter_8.pth'), work=work)


def test_one_command_equals_the_training_runs_evaluation(trained):
    runner = trained['runner']
    own = runner.test()  # the config's ZeroShotTestLoop + Accuracy
    out = str(trained['work'] / 'eval')
    results = evaluate_tool.main([
        'zero-shot', trained['cfg_path'], trained['ckpt'], '--datasets',
        'config', 'synthetic_world', 'food101', '--data-root',
        str(trained['work'] / 'no_data'), '--out-dir', out,
        '--descriptions', 'wordnet'
    ])
    scores = results['datasets']['config']['scores']
    assert set(scores) == {'heldout', 'heldout_names'}
    for name, value in scores.items():
        assert value == pytest.approx(own[f'{name}/accuracy/top1'],
                                      abs=1e-6)
    # the synthetic-world benchmark scores the same classes and texts
    world = results['datasets']['synthetic_world']
    assert world['status'] == 'ok' and set(world['scores']) == {
        'names', 'described'}
    # absent datasets: a notice, a row marked n/a, no crash
    assert results['datasets']['food101']['status'] == 'absent'
    assert results['num_evaluated'] == 2
    for ext in ('json', 'md', 'png'):
        assert osp.getsize(osp.join(out, f'zero_shot.{ext}')) > 0
    table = open(osp.join(out, 'zero_shot.md')).read()
    assert '| Food-101 | top-1 | n/a' in table and '**mean**' in table
    with open(osp.join(out, 'zero_shot.json')) as f:
        assert json.load(f)['datasets']['config']['scores'] == scores


def test_zero_shot_metric_as_test_evaluator_and_hook(trained):
    runner = trained['runner']
    own = runner.test()
    from mmengine.evaluator import Evaluator
    from icar_mm.evaluation import ZeroShotMetric
    loop = runner.test_loop
    saved = loop.evaluators
    loop.evaluators = {k: Evaluator(ZeroShotMetric()) for k in saved}
    for ev in loop.evaluators.values():
        ev.dataset_meta = {}
    try:
        metrics = loop.run()
    finally:
        loop.evaluators = saved
    for name in ('heldout', 'heldout_names'):
        assert metrics[f'{name}/zero-shot/top1'] == pytest.approx(
            own[f'{name}/accuracy/top1'], abs=1e-6)
    # the in-training check scores the same set identically
    cfg = trained['cfg']
    hook = ZeroShotEvalHook(sets=[
        dict(name='heldout', dataset=cfg.test_dataloader.dataset,
             vocabulary=cfg.heldout_vocabularies.heldout)
    ], interval=1)
    out = hook.evaluate(runner, runner.iter)
    assert out['zero-shot/heldout'] == pytest.approx(
        own['heldout/accuracy/top1'], abs=1e-6)
    assert runner.message_hub.get_scalar('zero-shot/heldout').current() \
        == out['zero-shot/heldout']


def test_few_shot_uses_exactly_k_per_class_and_no_val(trained):
    model = trained['runner'].model
    out = str(trained['work'] / 'probe')
    kwargs = dict(cfg=trained['cfg'], shots=(1, 2, 4), seeds=(0, 1, 2),
                  cache_dir=str(trained['work'] / 'cache'), max_iter=200)
    results = evaluate_linear_probe(model, '', ['synthetic_world'],
                                    **kwargs)
    assert not osp.exists(out)  # the library function writes no results
    entry = results['datasets']['synthetic_world']
    assert results['cache']['misses'] == 2  # train and test, encoded once
    from icar_mm.evaluation.benchmark import synthetic_world_spec
    from icar_mm.registry import DATASETS
    labels = np.array([
        d['gt_label'] for d in DATASETS.build(
            dict(type='SyntheticWorldClsDataset', split='heldout_train',
                 seed=3, **synthetic_world_spec(trained['cfg']).kwargs)
        ).load_data_list()
    ])
    num_classes = len(np.unique(labels))
    for k, res in entry['few_shot'].items():
        assert len(res['scores']) == 3
        assert res['std'] == pytest.approx(np.std(res['scores']))
        seen = set()
        for run in res['runs']:
            idx = np.array(run['train_idx'])
            counts = np.bincount(labels[idx], minlength=num_classes)
            assert (counts == int(k)).all()  # exactly K per class
            assert not set(run['train_idx']) & set(run['val_idx'])
            seen.add(tuple(idx))
        assert len(seen) == 3  # each seed draws other shots
    assert 0 <= entry['linear_probe']['score'] <= 100
    # the tool writes the table, the results and the plot
    table = evaluate_tool.report_linear_probe(results, out)
    assert '| Synthetic world (held-out) |' in table
    assert osp.isfile(osp.join(out, 'few_shot.png'))
    with open(osp.join(out, 'linear_probe.json')) as f:
        assert json.load(f)['cache'] == results['cache']
    # the second run reads the cached features
    again = evaluate_linear_probe(model, '', ['synthetic_world'],
                                  **dict(kwargs, shots=(1, ), seeds=(0, )))
    assert again['cache'] == dict(dir=kwargs['cache_dir'], hits=2,
                                  misses=0)


def test_linear_probe_on_digits_beats_chance(trained):
    from sklearn.datasets import load_digits
    model = trained['runner'].model.eval()
    digits = load_digits()
    keep = np.random.default_rng(0).permutation(len(digits.target))[:800]
    imgs = torch.tensor(digits.images[keep] / 16. * 255.,
                        dtype=torch.float32)
    imgs = torch.nn.functional.interpolate(imgs[:, None], size=32)
    imgs = imgs.expand(-1, 3, -1, -1).contiguous()
    with torch.no_grad():
        x = (imgs - 127.5) / 127.5
        feats = torch.cat([model.extract_feat(x[i:i + 256])
                           for i in range(0, len(x), 256)]).numpy()
    labels = digits.target[keep]
    order = np.arange(len(labels))
    test, rest = order[:300], order[300:]
    tr, va = split_validation(labels[rest], 0.2)
    tr, va = rest[tr], rest[va]
    assert not set(tr) & set(va) and not set(rest) & set(test)
    res = linear_probe((feats[tr], labels[tr]), (feats[va], labels[va]),
                       (feats[test], labels[test]), 10, 'top1',
                       steps_per_decade=1, max_iter=200,
                       start_logs=(-3, -1, 1))
    assert res['score'] > 40  # chance: 10
    assert len(res['sweep']) >= 3 and res['val_score'] > 40


def test_text_initialised_classifier_equals_zero_shot(trained):
    model = trained['runner'].model.eval()
    from icar_mm.models.heads.cosine_cls_head import CosineClsHead
    from icar_mm.class_texts import ClassTextBank
    vocab = dict(trained['cfg'].heldout_vocabularies.heldout)
    bank = ClassTextBank(**vocab)
    head = CosineClsHead(num_classes=len(bank), in_channels=64)
    original = model.cls_head
    model.cls_head = head  # a fine-tuning model: parametric cosine head
    try:
        hook = TextInitClassifierHook(vocabulary=vocab,
                                      freeze_text_encoder=False)
        hook.init_weights(model)
        x = torch.randn(6, 3, 32, 32)
        with torch.no_grad():
            emb = model.visual_proj(model.extract_feat(x))
            ft_logits = head((emb, ))
            zs = model.classify(emb, None, bank)
        zs_logits = torch.stack([s.pred_logits for s in zs])
        # same cosines, the head's own temperature
        torch.testing.assert_close(
            ft_logits / head.log_scale.exp(),
            zs_logits / model.text_classifier.scale, atol=1e-5, rtol=1e-5)
    finally:
        model.cls_head = original


def test_unreadable_images_are_left_out_and_counted(trained, tmp_path):
    """One missing and one non-image file do not abort the benchmark."""
    import cv2
    root = tmp_path / 'data' / 'food-101'
    names = []
    for c in ('apple_pie', 'waffles'):
        (root / 'images' / c).mkdir(parents=True)
        for i in (1, 2, 3):
            cv2.imwrite(str(root / 'images' / c / f'{i}.jpg'),
                        np.full((20, 20, 3), 60 * i, np.uint8))
            names.append(f'{c}/{i}')
    (root / 'meta').mkdir()
    (root / 'meta' / 'train.txt').write_text('apple_pie/1\n')
    (root / 'meta' / 'test.txt').write_text('\n'.join(names) + '\n')
    (root / 'images' / 'apple_pie' / '2.jpg').unlink()
    (root / 'images' / 'waffles' / '3.jpg').write_text('not an image')
    results = evaluate_tool.main([
        'zero-shot', trained['cfg_path'], trained['ckpt'], '--datasets',
        'food101', '--data-root', str(tmp_path / 'data'), '--out-dir',
        str(tmp_path / 'eval'), '--image-size', '32'])
    food = results['datasets']['food101']
    assert food['status'] == 'ok' and food['num_images'] == 4
    assert sorted(osp.basename(osp.dirname(p)) + '/' + osp.basename(p)
                  for p in food['skipped_images']) == [
                      'apple_pie/2.jpg', 'waffles/3.jpg']
