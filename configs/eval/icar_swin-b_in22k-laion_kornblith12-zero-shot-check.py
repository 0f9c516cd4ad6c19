# iCAR Swin-B pretraining with zero-shot checks on ImageNet-1K val and the
# Kornblith-12 test sets found under data/ (absent ones are skipped with a
# warning), every 5,000 iterations; the in-loop validation reports the
# protocol metric.
_base_ = ['../icar/icar_swin-b-roberta_8xb128_in22k-laion.py']

_benchmarks = [
    'imagenet', 'food101', 'cifar10', 'cifar100', 'birdsnap', 'sun397',
    'stanford_cars', 'fgvc_aircraft', 'voc2007', 'dtd', 'oxford_pets',
    'caltech101', 'flowers102'
]
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='CheckpointKeysHook'),
    dict(
        type='ZeroShotEvalHook',
        interval=5000,
        batch_size=128,
        sets=[
            dict(name=b, benchmark=b, data_root='data', image_size=224)
            for b in _benchmarks
        ]),
]
