"""The shipped Swin-B UPerNet segmentation configs, run end to end on a
miniature copy of their datasets' official layouts.

Per config: a handful of JPEG images with PNG label maps written where the
config looks (ADE20K's ``data/ade/ADEChallengeData2016/images/{training,
validation}`` + ``annotations/...``; for the open-vocabulary config also
Pascal Context's ``data/VOCdevkit/VOC2010/JPEGImages``,
``SegmentationClassContext`` and ``ImageSets/SegmentationContext/{train,
val}.txt``), the config loaded and only sizes overridden (a 32-channel Swin
with one block per stage, 32/16-channel decode / auxiliary heads, SyncBN ->
BN for one CPU process, 64x64 crops, 2 images per batch, ``num_workers=0``,
a few iterations, the tiny random text tower instead of RoBERTa-base, no
iCAR checkpoint; the data paths stay the config's own, relative ones: the
tools run in ``tmp_path``, which holds ``data/``), written to a file and run
as a user runs it: ``tools/train.py`` for 2 iterations, ``tools/train.py
--resume`` to 4 (validation on ADE20K at 2 and 4), ``tools/test.py`` on
the last checkpoint with the config's own metric (``IoUMetric`` on ADE20K
validation; ``OpenVocabIoUMetric`` on Pascal Context-59 for the
ADE-trained model with its class list swapped).
"""
import copy
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from downstream_layouts import (TINY_TEXT_ENCODER, assert_finite_metrics,
                                checkpoint_meta, config_id, config_path,
                                random_scene, train_resume_test,
                                update_transform, write_image)

pytest.importorskip('mmseg')

pytestmark = [pytest.mark.real_layout,
              pytest.mark.usefixtures('single_thread')]

SEG = 'configs/downstream/seg/'
ADE = SEG + 'upernet_swin-b-icar-text_8xb2-160k_ade20k-512x512.py'
PC59 = SEG + ('upernet_swin-b-icar-text_ade20k-150-train_'
              'pascal-context-59-ov-test.py')
CROP = (64, 64)
IMAGE = (72, 96)  # height, width of the generated images
ITERS = 4


def label_scene(rng, labels, size=IMAGE):
    """An image and its label map: one ellipse per label value (0 where
    there is none: ADE20K's "other", Pascal Context's background)."""
    image, objects = random_scene(rng, size[0], size[1], len(labels))
    seg = np.zeros(size, np.uint8)
    for (mask, _), label in zip(objects, labels):
        seg[mask > 0] = label
    return image, seg


def ade20k_layout(root='data/ade/ADEChallengeData2016', seed=0):
    """ADE20K (SceneParsing 2016): ``images/{training,validation}/
    ADE_{train,val}_%08d.jpg`` and ``annotations/...png`` with labels 1..150
    (0: other, ignored through reduce_zero_label)."""
    from mmseg.datasets import ADE20KDataset
    classes = ADE20KDataset.METAINFO['classes']
    labels = [classes.index(n) + 1
              for n in ('wall', 'floor', 'tree', 'person')]
    rng = np.random.default_rng(seed)
    for split, prefix, n in (('training', 'ADE_train', 4),
                             ('validation', 'ADE_val', 2)):
        for i in range(n):
            image, seg = label_scene(rng, [labels[(i + j) % len(labels)]
                                           for j in range(3)])
            name = f'{prefix}_{i + 1:08d}'
            write_image(osp.join(root, 'images', split, name + '.jpg'),
                        image)
            write_image(osp.join(root, 'annotations', split, name + '.png'),
                        seg)


def pascal_context_layout(root='data/VOCdevkit/VOC2010', seed=1):
    """Pascal Context (59 classes) on VOC2010: ``JPEGImages/<id>.jpg``,
    ``SegmentationClassContext/<id>.png`` with labels 1..59 (0:
    background, ignored) and the ``ImageSets/SegmentationContext`` lists.
    The validation images show classes that are ADE-150 names (wall,
    floor: base) and classes that are not (aeroplane, bus: novel)."""
    from mmseg.datasets import PascalContextDataset59
    classes = PascalContextDataset59.METAINFO['classes']
    labels = [classes.index(n) + 1
              for n in ('wall', 'aeroplane', 'floor', 'bus')]
    rng = np.random.default_rng(seed)
    ids = {'train': ['2008_000002', '2008_000003'],
           'val': ['2008_000008', '2008_000026']}
    for split, names in ids.items():
        for i, name in enumerate(names):
            image, seg = label_scene(rng, [labels[(i + j) % len(labels)]
                                           for j in range(3)])
            write_image(osp.join(root, 'JPEGImages', name + '.jpg'), image)
            write_image(osp.join(root, 'SegmentationClassContext',
                                 name + '.png'), seg)
        lists = osp.join(root, 'ImageSets', 'SegmentationContext')
        os.makedirs(lists, exist_ok=True)
        with open(osp.join(lists, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')


def shrink_segmentor(cfg: Config) -> None:
    """Sizes only: Swin 32 channels with one block per stage (its heads,
    window and strides as configured), narrower heads and joint space,
    BN for SyncBN (one CPU process), the tiny text tower, no iCAR
    checkpoint; 64x64 crops, 2 images per batch, ``ITERS`` iterations."""
    m = cfg.model
    bn = dict(type='BN', requires_grad=True)
    m.data_preprocessor.size = CROP
    m.backbone.update(embed_dims=32, depths=[1, 1, 1, 1], init_cfg=None)
    m.decode_head.update(in_channels=[32, 64, 128, 256], channels=32,
                         norm_cfg=bn)
    clf = m.decode_head.text_classifier
    clf.embed_dim = 32
    clf.text_encoder = copy.deepcopy(TINY_TEXT_ENCODER)  # no init_cfg left
    m.auxiliary_head.update(in_channels=128, channels=16, embed_dim=32,
                            norm_cfg=bn)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(num_workers=0, persistent_workers=False,
                      batch_size=2 if name == 'train_dataloader' else 1)
        pipeline = loader.dataset.pipeline
        if name == 'train_dataloader':
            update_transform(pipeline, 'RandomResize', scale=(256, 64))
            update_transform(pipeline, 'RandomCrop', crop_size=CROP)
        else:
            update_transform(pipeline, 'Resize',
                             scale=(256, 64) if 'ADE' in
                             loader.dataset.type else CROP)
    cfg.train_cfg.update(max_iters=ITERS, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1


CASES = {
    # config: (test metric keys, Pascal Context layout too)
    ADE: (['aAcc', 'mIoU', 'mAcc'], False),
    PC59: (['aAcc', 'mIoU', 'mAcc', 'mIoU_base', 'mIoU_novel', 'hIoU'],
           True),
}


@pytest.mark.parametrize('config', list(CASES), ids=config_id)
def test_seg_config_trains_resumes_and_tests_on_real_layout(
        config, tmp_path, monkeypatch):
    """2 iterations, resumed to 4, then tools/test.py with the config's
    metric (the PC-59 config: ADE-150 training, PC-59 test vocabulary)."""
    keys, pascal = CASES[config]
    monkeypatch.chdir(tmp_path)  # where data/ is, as in the repository
    cfg = Config.fromfile(config_path(config))
    assert cfg.train_dataloader.dataset.data_root == \
        'data/ade/ADEChallengeData2016'
    ade20k_layout()
    if pascal:
        assert cfg.test_dataloader.dataset.data_root == \
            'data/VOCdevkit/VOC2010/'
        pascal_context_layout()
    shrink_segmentor(cfg)
    cfg_file = osp.basename(config)
    cfg.dump(cfg_file)
    metrics, ckpt = train_resume_test(monkeypatch, cfg_file, 'work', 'iter',
                                      ITERS // 2, ITERS)
    assert_finite_metrics(metrics, keys)
    # trained on ADE20K's 150 classes (both configs)
    assert len(checkpoint_meta(ckpt)['dataset_meta']['classes']) == 150
