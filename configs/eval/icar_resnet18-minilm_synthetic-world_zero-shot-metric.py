# The demo, validated with the zero-shot protocol metric (top-1, top-5,
# mean per-class accuracy) instead of mmpretrain's Accuracy, plus an
# in-training zero-shot check (OpenCLIP's --zeroshot-frequency) on the
# held-out classes every 100 iterations.
_base_ = ['../icar/icar_resnet18-minilm_1xb64_synthetic-world.py']

val_evaluator = dict(type='ZeroShotMetric', protocol='top1', topk=(1, 5))
test_evaluator = val_evaluator

custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='CheckpointKeysHook'),
    dict(
        type='ZeroShotEvalHook',
        interval=100,
        sets=[
            dict(
                name='synthetic-heldout',
                dataset=dict(
                    type='SyntheticWorldClsDataset',
                    split='heldout',
                    num_per_class=20,
                    world={{_base_.world}},
                    seed=5,
                    pipeline=[dict(type='PackInputs')]),
                vocabulary=dict(
                    source=dict(type='synthetic_world', split='heldout'),
                    templates='synthetic-world')),
        ]),
]
