# ImageNet-22K (21,841 synsets, WordNet descriptions) + LAION image-text
# pairs, 128 + 128 images per GPU, and zero-shot ImageNet-1K validation.
# Expected layout (mmpretrain's): data/imagenet21k/{train/,meta/train.txt},
# data/imagenet/{val/,meta/val.txt}, data/laion/{images/,laion.csv}.
data_preprocessor = dict(
    type='TwoStreamDataPreprocessor',
    # CLIP's mean/std, as for image-text pretrained weights
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True)

cls_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
itc_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['text']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    cls=dict(
        batch_size=128,
        num_workers=8,
        persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='ImageNet21k',
            data_root='data/imagenet21k',
            ann_file='meta/train.txt',
            data_prefix='train',
            pipeline=cls_pipeline)),
    itc=dict(
        batch_size=128,
        num_workers=8,
        persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='ImageTextDataset',
            data_root='data/laion',
            ann_file='laion.csv',
            data_prefix='images',
            image_key='filepath',
            caption_key='title',
            pipeline=itc_pipeline)),
)

val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

imagenet_vocabularies = dict(
    imagenet=dict(source=dict(type='imagenet-1k'), templates='imagenet'),
    imagenet_names=dict(
        source=dict(type='imagenet-1k'),
        templates='imagenet',
        use_descriptions=False),
)
val_cfg = dict(type='ZeroShotValLoop', vocabularies=imagenet_vocabularies)
test_cfg = dict(type='ZeroShotTestLoop', vocabularies=imagenet_vocabularies)
