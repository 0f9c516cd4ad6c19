# mmpretrain's runtime, iteration-based, with icar_mm's components registered.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['icar_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2),
)
# random generator states travel with checkpoints: resumed runs are exact
custom_hooks = [dict(type='RandomStateHook')]
log_processor = dict(by_epoch=False, window_size=20)
randomness = dict(seed=0, deterministic=False)
