# mmpretrain's runtime, iteration-based, in icar_mm's registry scope (a
# child of mmpretrain's: mmpretrain's and mmengine's components resolve too).
_base_ = 'mmpretrain::_base_/default_runtime.py'

default_scope = 'icar_mm'
custom_imports = dict(imports=['icar_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2),
)
# random generator states travel with checkpoints: resumed runs are exact;
# a loaded checkpoint's fit to the model goes to the log (resume refuses a
# checkpoint of another architecture)
custom_hooks = [dict(type='RandomStateHook'), dict(type='CheckpointKeysHook')]
log_processor = dict(by_epoch=False, window_size=20)
randomness = dict(seed=0, deterministic=False)
