# AdamW; the pretrained text tower learns 50x slower than the new parts.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            'text_encoder.model': dict(lr_mult=0.02),
            'log_scale': dict(decay_mult=0.),
        }),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=600,
         eta_min=1e-5),
]
train_cfg = dict(
    type='TwoStreamIterBasedTrainLoop', max_iters=600, val_interval=200)
