# ADE20K fine-tuning of iCAR's Swin-B backbone and text classifier: UPerNet
# whose decode head and FCN auxiliary head end in a per-pixel projection
# (1x1 conv to the 256-d joint space) -> cosine against text-generated class
# embeddings (tau 0.05). Both heads share one text encoder (RoBERTa-base, the
# iCAR text tower), trained by the segmentation loss with one random template
# per class per step; at test time every class is the ensemble of CLIP's 80
# templates (cached). Backbone and text tower come from an icar_mm
# pretraining checkpoint:
#
#   tools/dist_train.sh configs/downstream/seg/<this file> 8 \
#       --cfg-options icar_checkpoint=work_dirs/icar_swin-b/iter_300000.pth
#
# mmpretrain's Swin keys equal mmseg's (mmseg's Swin strips `backbone.`
# itself; the hosts' norm0-norm2 output norms are new);
# tools/model_converters/icar_to_mmdet_mmseg.py --host mmseg --config
# THIS_FILE writes a backbone-only file and lists every unmatched key.
# Freeze the text encoder: model.decode_head.text_classifier.
# freeze_text_encoder=True (then the cached ensemble is used in training).
# Single CPU process: norm_cfg=dict(type='BN', requires_grad=True).
_base_ = 'mmseg::swin/swin-base-patch4-window7-in22k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa
custom_imports = dict(
    imports=['icar_mm', 'icar_mm.downstream.seg'], allow_failed_imports=False)

icar_checkpoint = 'work_dirs/icar_swin-b-roberta_8xb128_in22k-laion/iter_300000.pth'  # noqa
norm_cfg = dict(type='SyncBN', requires_grad=True)
# ADE20K's 150 class names (mmseg's ADE20KDataset.METAINFO): no dictionary
# descriptions ship with ADE20K; for iCAR's enriched names use
# dict(classes=[...names...], file='data/ade/ade150_class_texts.tsv', ...)
ade_class_texts = dict(
    source=dict(type='mmseg_dataset_classes', dataset='ADE20KDataset'),
    templates='imagenet',  # CLIP's 80 templates: the test-time ensemble
    use_descriptions=False)
text_encoder = dict(
    type='TextEncoder',
    pretrained='roberta-base',
    max_length=32,
    init_cfg=dict(
        type='Pretrained', checkpoint=icar_checkpoint,
        prefix='text_encoder.'))
text_classifier = dict(
    text_encoder=text_encoder,
    class_texts=ade_class_texts,
    embed_dim=256,
    tau=0.05,
    freeze_text_encoder=False)

model = dict(
    type='TextEncoderDecoder',
    data_preprocessor=dict(
        # CLIP's mean/std, as in iCAR pretraining
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305]),
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=icar_checkpoint)),
    decode_head=dict(
        _delete_=True,
        type='TextCosineUPerHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        text_classifier=text_classifier,
        # test_class_texts=...: another label set at inference (see the
        # pascal-context-59-ov-test config); default: the training classes
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        _delete_=True,
        type='TextCosineFCNHead',
        text_classifier=None,  # shares the decode head's
        num_classes=150,
        embed_dim=256,
        in_channels=512,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'text_encoder.model': dict(lr_mult=0.1),
        }))
