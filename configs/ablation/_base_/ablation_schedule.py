# The schedule of the README's ablation ("Does deep fusion help?") on the
# embedded iCAR config. Every file of configs/ablation/ is one row of that
# table, named after its variant, and inherits this one; each repeats the
# change its baseline in configs/icar/baselines/ makes to the iCAR config
# (mmengine merges a config into a single parent; tests/test_tools/
# test_ablation.py checks that the two agree).
#
# tools/experiments/ablation.py trains a file per seed (`randomness.seed`,
# e.g. `tools/train.py configs/ablation/icar.py --cfg-options
# randomness.seed=1`) and evaluates the model after training
# (tools/experiments/ablation_eval.py); its SCHEDULE records the values below
# for its result cache.
#
# The setup (32 labelled + 32 captioned 32 px images an iteration, 80
# training images per seen class, 4000 captions, the pretrained MiniLM
# trained whole, evaluation after training) is the first schedule's
# (ablation_schedule_400it.py); the length and the learning rate come from
# the linear head's curve (docs/ablation/schedule_curve.md,
# docs/ablation/lr_probe.md): 3200 iterations at lr 3e-3.
_base_ = './ablation_schedule_400it.py'

# AdamW lr 3e-3 (the fused implementation) under bfloat16 autocast
# (mmengine's AmpOptimWrapper on a GPU; tools/train.py and ablation.py turn
# it into CPUBF16AmpOptimWrapper on a CPU, with a warning in the log): 40
# warm-up iterations, then a cosine decay to lr / 100
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(lr=3e-3, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=40),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=40, end=3200,
         eta_min=3e-5),
]
train_cfg = dict(max_iters=3200, val_interval=3201)
default_hooks = dict(logger=dict(interval=320))
