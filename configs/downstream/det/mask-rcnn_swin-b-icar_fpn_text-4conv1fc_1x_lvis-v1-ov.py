# Open-vocabulary LVIS v1: train on the frequent + common categories (rare
# = novel are removed from the training vocabulary and their boxes dropped:
# LVISV1BaseDataset), evaluate on all 1203 with the vocabulary swapped to
# all class texts; LVISMetric reports APr (novel), APc, APf. Class texts are
# "name, WordNet definition" from the annotation file's `def` fields
# (iCAR's enriched class names), tau 0.03 (the author's LVIS value).
_base_ = [
    './mask-rcnn_swin-b-icar_fpn_text-4conv1fc_1x_coco.py',
]
data_root = 'data/lvis_v1/'
ann_train = data_root + 'annotations/lvis_v1_train.json'
ann_val = data_root + 'annotations/lvis_v1_val.json'
# the base vocabulary: LVIS minus rare
base_texts = dict(
    source=dict(type='coco-categories', ann_file=ann_train,
                frequency=('c', 'f')),
    templates='imagenet-simple',
    text_format='{name}, {description}')
all_texts = dict(
    source=dict(type='coco-categories', ann_file=ann_train),
    templates='imagenet-simple',
    text_format='{name}, {description}')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            text_classifier=dict(
                class_texts=dict(_delete_=True, **base_texts),
                tau=0.03,
                # 866 class texts per step go through the text encoder
                # with gradient; freeze_text_encoder=True if memory is short
                freeze_text_encoder=False),
            test_class_texts=all_texts),
        mask_head=dict(num_classes=1, class_agnostic=True)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))

backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=1e-3,
        dataset=dict(
            # rare categories out of the label space: their boxes are
            # dropped, the images stay; labels follow base_texts' order
            type='LVISV1BaseDataset',
            novel_frequency=('r', ),
            data_root=data_root,
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline,
            backend_args=backend_args)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LVISV1Dataset',
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='LVISMetric',
    ann_file=ann_val,
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator
