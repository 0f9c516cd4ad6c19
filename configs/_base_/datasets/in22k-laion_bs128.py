# ImageNet-22K (21,841 synsets, WordNet descriptions) + LAION image-text
# pairs, 128 + 128 images per GPU, and zero-shot ImageNet-1K validation.
# Expected layout (mmpretrain's): data/imagenet21k/{train/,meta/train.txt},
# data/imagenet/{val/,meta/val.txt}, data/laion/{images/,laion.csv}.
#
# Other layouts, by --cfg-options:
# * ImageNet-22K as class folders only: train_dataloader.cls.dataset.ann_file=
#   (empty; the folders train/n01440764/... are scanned; labels follow the
#   21,841 sorted synsets of the class texts);
# * LAION as webdataset shards (img2dataset output): train_dataloader.itc.
#   dataset.ann_file='shards/{00000..41407}.tar' (AutoImageTextDataset
#   streams them, split across ranks and workers; see
#   in22k-laion-wds_bs128.py for resampling and several weighted sources).
# Bad images, empty captions and cut-off shards are skipped, counted per
# source (`skipped_<source>` in the log) and listed with their key; more than
# 5% skipped stops the run (train_cfg.data_health).
data_preprocessor = dict(
    type='TwoStreamDataPreprocessor',
    # CLIP's mean/std, as for image-text pretrained weights
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True)

cls_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
# captions are tokenized in the dataloader workers with the text encoder's
# tokenizer (TokenizeCaption takes it from the model)
itc_pipeline = [
    dict(type='LoadImageChecked'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow'),
    dict(type='CleanWebCaption', fix_text=True, max_chars=1000),
    dict(type='TokenizeCaption'),
    dict(type='PackInputs', algorithm_keys=['text', 'text_ids',
                                            'text_tokenizer']),
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
            # classes = the 21,841 ImageNet-22K synsets with their WordNet
            # names and glosses (the same source as the text classifier)
            type='ImageNetDescribed',
            subset='imagenet-22k',
            data_root='data/imagenet21k',
            ann_file='meta/train.txt',
            data_prefix='train',
            source_name='imagenet-22k',
            pipeline=cls_pipeline)),
    itc=dict(
        batch_size=128,
        num_workers=8,
        persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            # a CSV/TSV/JSONL of loose files, or webdataset shards
            type='AutoImageTextDataset',
            data_root='data/laion',
            ann_file='laion.csv',
            data_prefix='images',
            image_key='filepath',
            caption_key='title',
            source_name='laion',
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
