# The embedded synthetic world (generated in memory, deterministic):
# an image-label stream over the seen classes, an image-text stream over
# random scenes, and the held-out classes for zero-shot validation.
world = dict(seed=0, image_size=32)

cls_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
# no flipping: captions name positions (left/right); captions are tokenized
# in the dataloader workers with the text encoder's tokenizer
itc_pipeline = [
    dict(type='TokenizeCaption'),
    dict(type='PackInputs', algorithm_keys=['text', 'text_ids',
                                            'text_tokenizer']),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    cls=dict(
        batch_size=64,
        num_workers=1,
        persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='SyntheticWorldClsDataset',
            split='train',
            num_per_class=80,
            world=world,
            seed=0,
            pipeline=cls_pipeline)),
    itc=dict(
        batch_size=64,
        num_workers=1,
        persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='SyntheticWorldCaptionDataset',
            num_samples=4000,
            include_heldout=True,
            world=world,
            seed=1,
            pipeline=itc_pipeline)),
)

val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SyntheticWorldClsDataset',
        split='heldout',
        num_per_class=40,
        world=world,
        seed=2,
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator

# zero-shot vocabularies of the held-out classes: with descriptions (iCAR's
# enriched class texts) and with names only
heldout_vocabularies = dict(
    heldout=dict(
        source=dict(type='synthetic_world', split='heldout'),
        templates='synthetic-world'),
    heldout_names=dict(
        source=dict(type='synthetic_world', split='heldout'),
        templates='synthetic-world',
        use_descriptions=False),
)
val_cfg = dict(type='ZeroShotValLoop', vocabularies=heldout_vocabularies)
test_cfg = dict(type='ZeroShotTestLoop', vocabularies=heldout_vocabularies)
