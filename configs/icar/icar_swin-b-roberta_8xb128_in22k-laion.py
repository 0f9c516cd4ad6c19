# iCAR pretraining of the design card: Swin-B (mmpretrain) + RoBERTa-base
# (Hugging Face), ImageNet-22K classes with WordNet descriptions + LAION
# pairs, 8 GPUs x (128 image-label + 128 image-text).
#   tools/dist_train.sh configs/icar/icar_swin-b-roberta_8xb128_in22k-laion.py 8 --amp
# Offline: --cfg-options model.text_encoder.pretrained=/path/to/roberta-base
_base_ = [
    '../_base_/datasets/in22k-laion_bs128.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ICAR',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='SwinTransformer', arch='base', img_size=224,
        drop_path_rate=0.3),
    neck=dict(type='GlobalAveragePooling'),
    feat_channels=1024,
    embed_dim=256,
    text_encoder=dict(
        type='TextEncoder',
        pretrained='roberta-base',
        max_length=77,
        gradient_checkpointing=False),
    cls_head=dict(
        type='TextMetaClassifier',
        classifier=dict(
            type='TextClassifier',
            class_texts=dict(
                source=dict(type='imagenet-22k'),
                templates='imagenet',
                text_format='{name}, {description}'),
            tau=0.05,
            # the author's way: all 21,841 classes every step, encoded in
            # shards across ranks; or subsample: num_negatives=4096
            shard_classes=True,
            num_negatives=None),
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    itc_loss=dict(type='ContrastiveLoss', init_temperature=0.07),
)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            'text_encoder.model': dict(lr_mult=0.1),
            '.absolute_pos_embed': dict(decay_mult=0.),
            '.relative_position_bias_table': dict(decay_mult=0.),
            'log_scale': dict(decay_mult=0.),
        }),
    clip_grad=dict(max_norm=5.0),
)
max_iters = 300_000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=10_000),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10_000,
         end=max_iters, eta_min=1e-5),
]
train_cfg = dict(
    type='TwoStreamIterBasedTrainLoop', max_iters=max_iters,
    val_interval=10_000)
default_hooks = dict(checkpoint=dict(interval=5_000, max_keep_ckpts=3))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
# lr above is for 8 GPUs x 128 image-label samples
auto_scale_lr = dict(base_batch_size=1024)
