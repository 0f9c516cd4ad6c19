# The embedded default: a small iCAR trained on the synthetic world on CPU
# in minutes, validated zero-shot on held-out classes (with descriptions and
# names only). `python tools/train.py THIS_FILE --work-dir work_dirs/demo`.
_base_ = [
    '../_base_/models/icar_resnet18_minilm.py',
    '../_base_/datasets/synthetic_world.py',
    '../_base_/schedules/synthetic_world_600it.py',
    '../_base_/default_runtime.py',
]

# the summary printed at the end of the run
custom_hooks = _base_.custom_hooks + [
    dict(
        type='RunSummaryHook',
        metrics={
            'heldout/accuracy/top1':
            'zero-shot on 10 held-out classes, name + description',
            'heldout_names/accuracy/top1':
            'zero-shot on 10 held-out classes, name only',
        },
        chance=10.0,
        next_commands=[
            '.venv/bin/python tools/evaluate.py zero-shot {config} '
            '{checkpoint}  # the same numbers from the checkpoint',
            '.venv/bin/python tools/test.py {config} {checkpoint}',
            '.venv/bin/python tools/experiments/ablation.py --help  '
            '# does deep fusion help? (README)',
        ]),
]
