# Kinetics-400 fine-tuning of iCAR's Video Swin-B, the author's recipe:
# Video Swin-B inflated from the iCAR 2D checkpoint (patch (2,4,4), window
# (8,7,7)); head = dropout 0.5 -> projection -> cosine against text class
# embeddings (tau 0.05) from the iCAR text tower (RoBERTa-base), which keeps
# training; AdamW lr 3e-4, backbone lr x0.1, wd 0.05, 30 epochs with 2.5
# warm-up epochs (cosine after), batch 8 x 8 GPUs.
#
# 1. Inflate the pretraining checkpoint (backbone + visual projection + text
#    tower):
#      python tools/model_converters/swin2d_to_video_swin.py \
#          work_dirs/icar_swin-b/epoch_N.pth checkpoints/icar_video-swin-b.pth \
#          --window-size 8 7 7 --patch-size-t 2 --config <this file>
# 2. Train with mmaction2's data layout (data/kinetics400/...):
#      bash tools/dist_train.sh <this file> 8 \
#          --cfg-options load_from=checkpoints/icar_video-swin-b.pth
# Offline text tower: --cfg-options
#   model.cls_head.text_classifier.text_encoder.pretrained=/path/to/roberta-base
_base_ = [
    'mmaction::recognition/swin/'
    'swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'
]
custom_imports = dict(
    imports=['icar_mm.downstream.action'], allow_failed_imports=False)

# the 80 CLIP ImageNet templates suit frames; Kinetics names are verb phrases
templates = ['a video of a person {}.', 'a photo of a person {}.',
             'a person {}.', 'a video of {}.', 'a clip of someone {}.',
             '{}']
kinetics400_texts = dict(
    source=dict(type='kinetics-400'),
    templates=templates,
    use_descriptions=False)  # or file='k400_descriptions.tsv' (name, gloss)

model = dict(
    backbone=dict(
        arch='base',
        pretrained=None,  # weights come from load_from (inflated iCAR)
        pretrained2d=False,
        patch_size=(2, 4, 4),
        window_size=(8, 7, 7),
        drop_path_rate=0.3),
    data_preprocessor=dict(  # CLIP mean/std, as in iCAR pretraining
        mean=[122.771, 116.746, 104.094],
        std=[68.501, 66.632, 70.323]),
    cls_head=dict(
        _delete_=True,
        type='TextRecognizerHead',
        in_channels=1024,
        dropout_ratio=0.5,
        average_clips='prob',
        text_classifier=dict(
            embed_dim=256,
            tau=0.05,
            freeze_text_encoder=False,
            text_encoder=dict(pretrained='roberta-base', max_length=32),
            class_texts=kinetics400_texts)))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='SwinOptimWrapperConstructor',
    paramwise_cfg=dict(
        absolute_pos_embed=dict(decay_mult=0.),
        relative_position_bias_table=dict(decay_mult=0.),
        norm=dict(decay_mult=0.),
        backbone=dict(lr_mult=0.1)))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2.5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=27.5, eta_min=0, by_epoch=True,
         begin=2.5, end=30, convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=30, val_begin=1, val_interval=3)

# mmaction2 batches with pseudo_collate; icar_mm's tools/train.py and
# tools/test.py default to default_collate
train_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
