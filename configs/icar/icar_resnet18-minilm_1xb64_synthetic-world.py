# The embedded default: a small iCAR trained on the synthetic world on CPU
# in minutes, validated zero-shot on held-out classes (with descriptions and
# names only). `python tools/train.py THIS_FILE --work-dir work_dirs/demo`.
_base_ = [
    '../_base_/models/icar_resnet18_minilm.py',
    '../_base_/datasets/synthetic_world.py',
    '../_base_/schedules/synthetic_world_600it.py',
    '../_base_/default_runtime.py',
]
