# icar_clip-vit-b-32_1xb64_food101-ft.py with an exponential moving average
# of the weights (mmengine's EMAHook): validation, testing and the saved
# `state_dict` use the averaged weights (the raw ones are kept in the
# checkpoint for resuming).
_base_ = './icar_clip-vit-b-32_1xb64_food101-ft.py'

# EMAHook's priority puts it before the zero-shot checks
custom_hooks = _base_.custom_hooks + [
    dict(type='EMAHook', momentum=1e-3, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
