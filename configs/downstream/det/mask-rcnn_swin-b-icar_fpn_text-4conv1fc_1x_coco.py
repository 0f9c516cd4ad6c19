# COCO fine-tuning of iCAR's Swin-B backbone and text classifier: Mask R-CNN
# whose RoI classification layer is the text cosine classifier (Shared4Conv1FC
# box head, learned background embedding, tau 0.03), backbone and text tower
# loaded from an icar_mm pretraining checkpoint.
#
# mmpretrain's Swin keys equal mmdet's, so the iCAR checkpoint loads
# directly with prefix 'backbone.' (the hosts' norm0-norm2 output norms are
# new). tools/model_converters/icar_to_mmdet_mmseg.py --config THIS_FILE
# writes smaller files and lists every key that does not match.
#
#   tools/dist_train.sh configs/downstream/det/<this file> 8 \
#       --cfg-options icar_checkpoint=work_dirs/icar_swin-b/epoch_30.pth
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
custom_imports = dict(
    imports=['icar_mm.downstream.det'], allow_failed_imports=False)

icar_checkpoint = 'work_dirs/icar_swin-b-roberta_8xb128_in22k-laion/epoch_30.pth'  # noqa
coco_classes = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush')
# COCO categories carry no definition: names only here; for iCAR's enriched
# class names give a class-text file, e.g.
# dict(classes=coco_classes, file='data/coco/coco_class_texts.tsv', ...)
class_texts = dict(
    classes=coco_classes, templates='imagenet-simple', use_descriptions=False)
text_encoder = dict(
    type='TextEncoder',
    pretrained='roberta-base',
    max_length=77,
    init_cfg=dict(
        type='Pretrained', checkpoint=icar_checkpoint,
        prefix='text_encoder.'))

model = dict(
    data_preprocessor=dict(
        # CLIP's mean/std, as in iCAR pretraining
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305]),
    backbone=dict(
        embed_dims=128,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        window_size=7,
        drop_path_rate=0.3,
        convert_weights=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=icar_checkpoint,
            prefix='backbone.')),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    roi_head=dict(
        bbox_head=dict(
            _delete_=True,
            type='TextShared4Conv1FCBBoxHead',
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
            text_classifier=dict(
                text_encoder=text_encoder,
                class_texts=class_texts,
                embed_dim=256,
                tau=0.03),
            reg_class_agnostic=True,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=10.0),
            reg_decoded_bbox=True),
        mask_head=dict(num_classes=80)))

# the text tower at a lower learning rate, like the backbone's norm decay
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'bg_embedding': dict(decay_mult=0.),
            'text_classifier.text_encoder': dict(lr_mult=0.1),
        }))
