"""The shipped Swin-B detection configs, run end to end on a miniature copy
of their datasets' official layouts.

Per config: a handful of images with polygon-masked objects written where
the config looks (``data/coco/{train,val}2017/`` + COCO instances JSON, the
OV-COCO 48/17 split files, LVIS v1 JSON with ``def`` / ``synonyms`` /
``frequency`` and images addressed by ``coco_url``), the config loaded and
only sizes overridden (a 1-block-per-stage 32-channel Swin with the
config's heads, 96x128 images, 2 images per batch, ``num_workers=0``, fewer
sampled RoIs, the tiny random text tower instead of RoBERTa-base, no iCAR
checkpoint; the data paths stay the config's own, relative ones: the tools
run in ``tmp_path``, which holds ``data/``), written to a file and run as a
user runs it: ``tools/train.py`` for one epoch, ``tools/train.py --resume``
to the second, ``tools/test.py`` on the last checkpoint with the config's
own metric.
"""
import copy
import os.path as osp

import pytest
from mmengine.config import Config

from downstream_layouts import (TINY_TEXT_ENCODER, assert_finite_metrics,
                                checkpoint_meta, coco_categories,
                                coco_id, coco_instances, config_id,
                                config_path, dump_json, lvis_categories,
                                lvis_instances, train_resume_test)

pytest.importorskip('mmdet')

pytestmark = [pytest.mark.real_layout,
              pytest.mark.usefixtures('single_thread')]

DET = 'configs/downstream/det/'
COCO = DET + 'mask-rcnn_swin-b-icar_fpn_text-4conv1fc_1x_coco.py'
OV_COCO = DET + 'mask-rcnn_swin-b-icar_fpn_text-4conv1fc_1x_coco-ov-48-17.py'
LVIS = DET + 'mask-rcnn_swin-b-icar_fpn_text-4conv1fc_1x_lvis-v1-ov.py'
CH = 32  # FPN / RoI channels (GN's 32 groups still divide them)
SCALE = (128, 96)  # (long, short) edge: the 96x128 images as they are


def shrink_detector(cfg: Config, text_encoder: dict) -> None:
    """Sizes only: Swin 32 channels, one block per stage (its heads, window
    and strides as configured), 32-channel FPN / RPN / RoI heads, a small
    joint embedding, and another text tower without the iCAR checkpoint."""
    m = cfg.model
    m.backbone.update(embed_dims=32, depths=[1, 1, 1, 1], init_cfg=None)
    m.neck.update(in_channels=[32, 64, 128, 256], out_channels=CH)
    m.rpn_head.update(in_channels=CH, feat_channels=CH)
    m.roi_head.bbox_roi_extractor.out_channels = CH
    m.roi_head.mask_roi_extractor.out_channels = CH
    head = m.roi_head.bbox_head
    head.update(in_channels=CH, conv_out_channels=CH, fc_out_channels=64)
    head.text_classifier.embed_dim = 32
    # assigned, not merged: nothing of RoBERTa / the iCAR init_cfg stays
    head.text_classifier.text_encoder = copy.deepcopy(text_encoder)
    m.roi_head.mask_head.update(in_channels=CH, conv_out_channels=CH)
    # fewer sampled anchors / RoIs and proposals (counts, not the method)
    m.train_cfg.rpn.sampler.num = 64
    m.train_cfg.rpn_proposal.update(nms_pre=500, max_per_img=200)
    m.train_cfg.rcnn.sampler.num = 64
    m.test_cfg.rpn.update(nms_pre=500, max_per_img=200)


def shrink_loaders(cfg: Config, epochs: int = 2) -> None:
    """Small sizes in every loader (the data paths stay the config's)."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(num_workers=0, persistent_workers=False,
                      batch_size=2 if name == 'train_dataloader' else 1)
        dataset = loader.dataset
        if dataset.type == 'ClassBalancedDataset':  # LVIS
            dataset = dataset.dataset
        for t in dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = SCALE
            elif t['type'] == 'RandomChoiceResize':
                t['scales'] = [(128, 80), SCALE]
    cfg.train_cfg.max_epochs = epochs
    cfg.default_hooks.logger.interval = 1


def write_config(cfg: Config) -> str:
    """The overridden config, as a file of the working directory."""
    path = osp.basename(cfg.filename)
    cfg.dump(path)
    return path


def coco_layout(train_names, val_names, train_file, val_file, train_cats,
                val_cats, root='data/coco') -> None:
    """``data/coco/annotations/{train_file,val_file}`` and the images of
    ``data/coco/train2017/`` and ``val2017/`` (COCO 2017's layout): two
    objects per image, real COCO category ids."""
    def objects(names, n):
        return [[coco_id(names[(i + j) % len(names)]) for j in range(2)]
                for i in range(n)]
    dump_json(coco_instances(root, 'train2017', coco_categories(train_cats),
                             objects(train_names, 4), seed=0),
              osp.join(root, 'annotations', train_file))
    dump_json(coco_instances(root, 'val2017', coco_categories(val_cats),
                             objects(val_names, 2), seed=1, first_id=100),
              osp.join(root, 'annotations', val_file))


def coco_config(config: str, text_encoder: dict) -> str:
    """The COCO 80 / OV-COCO 48-17 configs: layout + overridden config."""
    cfg = Config.fromfile(config_path(config))
    if 'ov-48-17' in config:
        # OVR-CNN's split files: training annotations of base classes only
        # (categories: the 48), validation of base and novel (the 65)
        ann = ('instances_train2017_seen_2.json',
               'instances_val2017_all_2.json')
        assert cfg.train_dataloader.dataset.ann_file == \
            'annotations/' + ann[0]
        coco_layout(['person', 'car'], ['person', 'car', 'dog'], *ann,
                    cfg.base_classes, cfg.all_classes)
    else:
        from mmdet.datasets import CocoDataset
        ann = ('instances_train2017.json', 'instances_val2017.json')
        coco_layout(['person', 'car', 'dog'], ['person', 'dog'], *ann,
                    CocoDataset.METAINFO['classes'],
                    CocoDataset.METAINFO['classes'])
    # the config's own paths (relative to the working directory)
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    for name in ('val_dataloader', 'test_dataloader'):
        assert cfg[name].dataset.ann_file == 'annotations/' + ann[1]
    for name in ('val_evaluator', 'test_evaluator'):
        assert cfg[name].ann_file == 'data/coco/annotations/' + ann[1]
    shrink_detector(cfg, text_encoder)
    shrink_loaders(cfg)
    return write_config(cfg)


def lvis_config(config: str, text_encoder: dict) -> str:
    """LVIS v1 open-vocabulary: ``data/lvis_v1/annotations/lvis_v1_{train,
    val}.json`` with all 1203 categories (mmdet's names; ``def``,
    ``synonyms``, ``frequency`` generated), images under ``train2017/`` /
    ``val2017/`` addressed by ``coco_url``."""
    cfg = Config.fromfile(config_path(config))
    root = 'data/lvis_v1/'
    cats = lvis_categories()
    rare = [c['id'] for c in cats if c['frequency'] == 'r'][:2]
    base = [c['id'] for c in cats if c['frequency'] != 'r'][:3]
    # training images show base and rare objects (the rare boxes are
    # dropped by LVISV1BaseDataset); validation shows both
    dump_json(lvis_instances(root, 'train', cats,
                             [[base[0], rare[0]], [base[1], base[2]],
                              [base[2], base[0]], [base[1], rare[1]]]),
              root + 'annotations/lvis_v1_train.json')
    dump_json(lvis_instances(root, 'val', cats,
                             [[base[0], rare[0]], [base[1], rare[1]]],
                             seed=1, first_id=100),
              root + 'annotations/lvis_v1_val.json')
    # the config's own paths (relative to the working directory)
    head = cfg.model.roi_head.bbox_head
    assert head.text_classifier.class_texts.source.ann_file == \
        head.test_class_texts.source.ann_file == \
        root + 'annotations/lvis_v1_train.json'
    assert cfg.test_evaluator.ann_file == root + 'annotations/lvis_v1_val.json'
    assert cfg.train_dataloader.dataset.dataset.data_root == root
    shrink_detector(cfg, text_encoder)
    shrink_loaders(cfg)
    return write_config(cfg)


CASES = {
    # config: (layout + overrides, test metric keys, training classes)
    COCO: (coco_config, [f'coco/{m}_{k}' for m in ('bbox', 'segm')
                         for k in ('mAP', 'mAP_50', 'mAP_75')], 80),
    OV_COCO: (coco_config, ['coco/bbox_mAP', 'coco/bbox_mAP_50',
                            'coco/base_ap', 'coco/novel_ap',
                            'coco/base_ap50', 'coco/novel_ap50'], 48),
    LVIS: (lvis_config, [f'lvis/{m}_{k}' for m in ('bbox', 'segm')
                         for k in ('AP', 'AP50', 'APr', 'APc', 'APf')],
           sum(c['frequency'] != 'r' for c in lvis_categories())),
}


@pytest.mark.parametrize('config', list(CASES), ids=config_id)
def test_det_config_trains_resumes_and_tests_on_real_layout(
        config, tmp_path, monkeypatch):
    """1 epoch (2 iterations of 2 images), resumed to 2 epochs (validation
    after each), then tools/test.py with the config's metric (CocoMetric,
    OVCocoMetric, LVISMetric)."""
    make, keys, num_train_classes = CASES[config]
    monkeypatch.chdir(tmp_path)  # where data/ is, as in the repository
    cfg_file = make(config, TINY_TEXT_ENCODER)
    metrics, ckpt = train_resume_test(monkeypatch, cfg_file, 'work', 'epoch',
                                      1, 2)
    assert_finite_metrics(metrics, keys)
    # trained on the config's training label space (LVIS: no rare class)
    classes = checkpoint_meta(ckpt)['dataset_meta']['classes']
    assert len(classes) == num_train_classes
