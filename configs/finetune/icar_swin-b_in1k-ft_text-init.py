# Fine-tuning an iCAR checkpoint on ImageNet-1K, the classifier initialised
# from the text-generated class weights (CLIP's 80-template ensemble of
# "name, WordNet gloss"), so training starts from the zero-shot classifier.
# The head is a parametric cosine classifier on the joint embedding; the
# text encoder is kept (frozen) so the fine-tuned model can still score
# other vocabularies.
#   python tools/train.py THIS_FILE --cfg-options load_from=ICAR_CKPT
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
_pretrain = '../icar/icar_swin-b-roberta_8xb128_in22k-laion.py'

model = dict(
    type='ICAR',
    data_preprocessor=dict(
        type='TwoStreamDataPreprocessor',
        # CLIP normalisation, as in pretraining
        mean=[122.771, 116.746, 104.094],
        std=[68.501, 66.632, 69.933],
        to_rgb=True),
    backbone=dict(type='SwinTransformer', arch='base', img_size=224,
                  drop_path_rate=0.2),
    neck=dict(type='GlobalAveragePooling'),
    feat_channels=1024,
    embed_dim=256,
    text_encoder=dict(type='TextEncoder', pretrained='roberta-base',
                      max_length=77),
    cls_head=dict(
        type='CosineClsHead', num_classes=1000, in_channels=256, tau=0.05,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original')),
    cls_on_projection=True,
)

imagenet_vocabulary = dict(
    source=dict(type='imagenet-1k'),
    templates='imagenet',
    text_format='{name}, {description}')

custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='CheckpointKeysHook'),
    dict(type='TextInitClassifierHook', vocabulary=imagenet_vocabulary,
         head_attr='cls_head.fc.weight', freeze_text_encoder=True),
]
# the frozen text encoder gets no gradient
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)

optim_wrapper = dict(
    optimizer=dict(lr=5e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))

# ICAR trains on named streams: ImageNet-1K is its image-label ('cls')
# stream, with the two-stream loop (no image-text stream here).
train_dataloader = dict(
    _delete_=True,
    cls=dict(
        batch_size=64,
        num_workers=5,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset={{_base_.train_dataloader.dataset}}))
_iters_per_epoch = 1281167 // 1024
train_cfg = dict(
    _delete_=True,
    type='TwoStreamIterBasedTrainLoop',
    max_iters=30 * _iters_per_epoch,
    val_interval=_iters_per_epoch)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=2 * _iters_per_epoch),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False,
         begin=2 * _iters_per_epoch, end=30 * _iters_per_epoch),
]
