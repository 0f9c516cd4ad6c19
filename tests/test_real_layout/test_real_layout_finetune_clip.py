"""The CLIP fine-tuning recipes of ``configs/finetune_clip/``, end to end.

* Food-101 (``icar_clip-vit-b-32_1xb64_food101-ft.py`` and its EMA
  variant): a tiny random Hugging Face CLIP saved to disk stands in for
  ViT-B/32 (32 px, 2 layers per tower: 4 layer groups each), Food-101 in its
  official layout (2 of the 101 dishes have images) with a class-text TSV of
  the 101 dishes, Oxford-IIIT Pets for the zero-shot hook. Trained 2
  iterations, resumed to 3, then the WiSE-FT tool between the CLIP (what
  the config builds) and the result.
* The synthetic world: its CLIP trained a few iterations, fine-tuned by the
  text-initialised linear head, then WiSE-FT: at alpha 0 the head is the
  CLIP's zero-shot classifier (same top-1 as zero-shot scoring of the CLIP
  checkpoint), at alpha 1 the tool gives the training run's own validation.
"""
import os
import os.path as osp
import re

import pytest
import torch

from repo_paths import load_tool
from pretrain_layout_data import (FLOAT, config_path, logged_metrics,
                                  run_tool, write_kornblith)
from tiny_clip import CONTEXT, IMAGE_SIZE, PROJECTION_DIM, save_tiny_hf_clip

pytestmark = [pytest.mark.real_layout,
              pytest.mark.usefixtures('single_thread')]

FOOD = 'configs/finetune_clip/icar_clip-vit-b-32_1xb64_food101-ft.py'
FOOD_EMA = 'configs/finetune_clip/icar_clip-vit-b-32_1xb64-ema_food101-ft.py'
CLIP = 'configs/finetune_clip/clip_resnet18-minilm_1xb32_synthetic-world.py'
LINEAR_FT = ('configs/finetune_clip/linear-text-init_resnet18-minilm_1xb32_'
             'synthetic-world-ft.py')


def _food101(data: str) -> None:
    """Food-101's layout: images/<dish>/<id>.jpg, meta/{train,test}.txt."""
    import cv2
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    world = SyntheticWorld(seed=0, image_size=IMAGE_SIZE)
    scenes = world.classification_scenes('seen', 4, seed=0, stream='food')
    lists = dict(train=[], test=[])
    for i, (scene, _) in enumerate(scenes[:8]):
        dish = ('apple_pie', 'waffles')[i % 2]
        path = osp.join(data, 'food-101', 'images', dish, f'{i}.jpg')
        os.makedirs(osp.dirname(path), exist_ok=True)
        assert cv2.imwrite(path, world.render(scene)['img'])
        lists['train' if i < 6 else 'test'].append(f'{dish}/{i}')
    os.makedirs(osp.join(data, 'food-101', 'meta'))
    for split, lines in lists.items():
        with open(osp.join(data, 'food-101', 'meta', f'{split}.txt'),
                  'w') as f:
            f.write('\n'.join(lines) + '\n')
    from icar_mm.class_texts.clip_prompts import CLASSNAMES
    names = CLASSNAMES['food101']
    with open(osp.join(data, 'food-101', 'class_texts.tsv'), 'w') as f:
        for i, name in enumerate(reversed(names)):  # any order
            f.write(f'{name}\ta dish, number {i} of the menu\n')


def _tiny_clip_options(clip_dir: str, max_iters: int) -> list:
    """ViT-B/32 -> the tiny CLIP; sizes, iterations and intervals."""
    size = str(IMAGE_SIZE)
    return [
        f'model.backbone.pretrained={clip_dir}',
        f'model.text_encoder.pretrained={clip_dir}',
        f'model.init_from_clip={clip_dir}',
        'model.feat_channels=32', f'model.embed_dim={PROJECTION_DIM}',
        f'model.text_encoder.max_length={CONTEXT}',
        'model.lock_image_unlocked_groups=2',
        'model.lock_text_unlocked_layers=3',
        f'train_dataloader.cls.dataset.dataset.pipeline.1.scale={size}',
        f'val_dataloader.dataset.pipeline.1.scale={size}',
        f'val_dataloader.dataset.pipeline.2.crop_size={size}',
        f'test_dataloader.dataset.pipeline.1.scale={size}',
        f'test_dataloader.dataset.pipeline.2.crop_size={size}',
        'test_dataloader.batch_size=2', 'test_dataloader.num_workers=0',
        'train_dataloader.cls.batch_size=2',
        'train_dataloader.cls.num_workers=0',
        'train_dataloader.cls.persistent_workers=False',
        'val_dataloader.batch_size=2', 'val_dataloader.num_workers=0',
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        f'param_scheduler.1.end={max_iters}',
    ]


@pytest.fixture(scope='module')
def food_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('food_ft')
    _food101(str(root / 'data'))
    write_kornblith(str(root / 'data'), ['oxford_pets'])
    clip_dir = save_tiny_hf_clip(str(root / 'clip'))
    return root, clip_dir


@pytest.mark.parametrize('config', [FOOD, FOOD_EMA], ids=['plain', 'ema'])
def test_food101_recipe_trains_resumes_and_keeps_its_settings(
        food_data, config):
    root, clip_dir = food_data
    hooks = 2  # index of the zero-shot hook (the EMA config appends)
    work = str(root / ('work_' + osp.basename(config)[:-3]))
    options = _tiny_clip_options(clip_dir, 2) + [
        f'custom_hooks.{hooks}.interval=2',
        f'custom_hooks.{hooks}.batch_size=2',
        f'custom_hooks.{hooks}.sets.7.image_size={IMAGE_SIZE}',
    ]
    first = run_tool('train.py', [config_path(config), '--work-dir', work,
                                  '--cfg-options', *options],
                     str(root), work)
    log = first.log
    # OpenCLIP's locking, reported: 4 groups per tiny tower
    assert 'Locked the image tower: 2 of 4 layer groups frozen' in log
    assert 'Locked the text tower: 1 of 4 layer groups frozen' in log
    assert 'Iter(train) [2/2]' in log
    assert 0 <= logged_metrics(log, ['accuracy/top1'])['accuracy/top1'] \
        <= 100
    # the zero-shot check after iteration 2, once (not again at the end)
    checks = re.findall(r'Zero-shot check: zero-shot/oxford_pets ' + FLOAT,
                        log)
    assert len(checks) == 1 and 0 <= float(checks[0]) <= 100
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu',
                      weights_only=False)
    # layer-wise lr decay: each trainable tower group one factor of 0.75
    # below the one above it; frozen parameters are not in the optimizer
    scales = sorted({round(g['lr_scale'], 6)
                     for g in ckpt['optimizer']['param_groups']})
    assert scales == [0.5625, 0.75, 1.0]
    if config == FOOD_EMA:
        ema = ckpt['ema_state_dict']
        key = 'visual_proj.weight'
        assert not torch.equal(ema[f'module.{key}'] if f'module.{key}' in ema
                               else ema[key], ckpt['state_dict'][key])
        return
    second = run_tool('train.py', [
        config_path(config), '--work-dir', work, '--resume',
        '--cfg-options', *_tiny_clip_options(clip_dir, 3), *options[-3:]
    ], str(root), work)
    assert 'resumed' in second.log.lower()
    assert 'Iter(train) [3/3]' in second.log
    assert 'Iter(train) [2/3]' not in second.log

    out = str(root / 'wise_ft')
    evaluate = load_tool('tools/evaluate.py')
    cwd = os.getcwd()
    os.chdir(root)
    try:
        results = evaluate.main([
            'wise-ft', config_path(config), osp.join(work, 'iter_2.pth'),
            '--alphas', '0', '1', '--out-dir', out, '--batch-size', '2',
            '--image-size', str(IMAGE_SIZE), '--cfg-options',
            *_tiny_clip_options(clip_dir, 2)
        ])
    finally:
        os.chdir(cwd)
    assert results['start']['checkpoint'] is None  # the CLIP, as built
    rows = {r['alpha']: r for r in results['rows']}
    # alpha 1 is the fine-tuned model: its validation as training logged it
    assert rows[1.0]['seen']['accuracy/top1'] == pytest.approx(
        logged_metrics(log, ['accuracy/top1'])['accuracy/top1'], abs=1e-6)
    for name in ('wise_ft.json', 'wise_ft.md', 'wise_ft.png'):
        assert osp.getsize(osp.join(out, name)) > 0


def test_wise_ft_on_the_synthetic_world(tmp_path):
    from mmengine.config import Config

    from icar_mm.apis import init_model
    from icar_mm.class_texts import ClassTextBank
    from icar_mm.evaluation import zero_shot_metrics
    from icar_mm.evaluation.features import (build_dataloader,
                                             extract_features)
    from icar_mm.registry import DATASETS
    small = [  # the fine-tuning's (labels only)
        'train_dataloader.cls.batch_size=8',
        'train_dataloader.cls.dataset.num_per_class=4',
        'val_dataloader.dataset.num_per_class=3',
        'test_dataloader.dataset.num_per_class=3',
        'default_hooks.logger.interval=1',
    ]
    clip_work = str(tmp_path / 'clip')
    run_tool('train.py', [
        config_path(CLIP), '--work-dir', clip_work, '--cfg-options',
        'train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=3',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=3', 'train_dataloader.itc.batch_size=8',
        'train_dataloader.itc.dataset.num_samples=64'
    ], str(tmp_path), clip_work)
    clip_ckpt = osp.join(clip_work, 'iter_3.pth')
    ft_work = str(tmp_path / 'ft')
    ft_options = [
        f'load_from={clip_ckpt}', 'train_cfg.max_iters=4',
        'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=4', *small
    ]
    ft = run_tool('train.py', [config_path(LINEAR_FT), '--work-dir',
                               ft_work, '--cfg-options', *ft_options],
                  str(tmp_path), ft_work)
    logged = logged_metrics(ft.log, ['accuracy/top1'])['accuracy/top1']
    evaluate = load_tool('tools/evaluate.py')
    results = evaluate.main([
        'wise-ft', config_path(LINEAR_FT), osp.join(ft_work, 'iter_4.pth'),
        '--zero-shot', clip_ckpt, '--alphas', '0', '0.5', '1', '--out-dir',
        str(tmp_path / 'wise'), '--cfg-options', *ft_options
    ])
    start = results['start']
    assert start['text_init'] == ['cls_head.fc.weight']
    assert start['from_init'] == ['cls_head.log_scale']  # a constant
    rows = {r['alpha']: r for r in results['rows']}
    # the log prints 4 decimals
    assert rows[1.0]['seen']['accuracy/top1'] == pytest.approx(logged,
                                                               abs=1e-4)
    # alpha 0: the text-initialised head is the CLIP's zero-shot classifier
    cfg = Config.fromfile(config_path(LINEAR_FT))
    cfg.merge_from_dict({'val_dataloader.dataset.num_per_class': 3})
    clip = init_model(config_path(CLIP), clip_ckpt)
    seen = DATASETS.build(cfg.val_dataloader.dataset)
    embeds, labels = extract_features(clip, build_dataloader(seen, 100))
    text_init = next(h for h in cfg.custom_hooks
                     if h.type == 'TextInitClassifierHook')
    bank = ClassTextBank(**text_init.vocabulary)
    zs = zero_shot_metrics(clip, embeds, labels, bank, 'top1')['top1']
    assert rows[0.0]['seen']['accuracy/top1'] == pytest.approx(zs,
                                                               abs=1e-6)
    assert len(labels) == 26 * 3
