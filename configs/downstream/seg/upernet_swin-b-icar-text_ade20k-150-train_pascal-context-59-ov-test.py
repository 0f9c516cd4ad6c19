# Open-vocabulary transfer: the ADE20K-150 model of
# upernet_swin-b-icar-text_8xb2-160k_ade20k-512x512.py, tested on Pascal
# Context-59 by swapping the class list of its text cosine heads (no
# retraining). mIoU_base / mIoU_novel split PC-59 into classes whose name is
# (exactly) an ADE-150 class name and the others.
#
#   tools/test.py configs/downstream/seg/<this file> ADE_FINETUNED.pth
#
# Another label set: change `test_class_texts` and the test dataloader
# together (the class texts must list the dataset's classes in label order),
# e.g. COCO-Stuff-171: dataset='COCOStuffDataset' with mmseg's
# _base_/datasets/coco-stuff164k.py dataloader.
_base_ = './upernet_swin-b-icar-text_8xb2-160k_ade20k-512x512.py'

test_class_texts = dict(
    source=dict(type='mmseg_dataset_classes',
                dataset='PascalContextDataset59'),
    templates='imagenet',
    use_descriptions=False)
model = dict(decode_head=dict(test_class_texts=test_class_texts))

img_scale = (520, 520)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalContextDataset59',
        data_root='data/VOCdevkit/VOC2010/',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(
    _delete_=True,
    type='OpenVocabIoUMetric',
    base_classes=dict(
        source=dict(type='mmseg_dataset_classes', dataset='ADE20KDataset')),
    iou_metrics=['mIoU'])
