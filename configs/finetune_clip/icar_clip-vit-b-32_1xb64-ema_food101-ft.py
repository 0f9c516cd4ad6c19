# icar_clip-vit-b-32_1xb64_food101-ft.py with an exponential moving average
# of the weights (mmengine's EMAHook): validation, testing and the saved
# `state_dict` use the averaged weights (the raw ones are kept in the
# checkpoint for resuming).
_base_ = './icar_clip-vit-b-32_1xb64_food101-ft.py'

custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='CheckpointKeysHook'),
    dict(type='EMAHook', momentum=1e-3, update_buffers=True,
         priority='ABOVE_NORMAL'),
    dict(type='ZeroShotEvalHook', interval=1000, batch_size=128,
         sets={{_base_.zero_shot_sets}}),
]
