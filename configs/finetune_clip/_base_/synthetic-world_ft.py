# Fine-tuning the synthetic world's CLIP (clip_resnet18-minilm_1xb32_
# synthetic-world.py) on its 26 labelled (seen) classes, as a user fine-tunes
# a pretrained CLIP on labelled data of their own: 200 iterations of 32
# labelled images, AdamW lr 5e-4 (half of pretraining's), captions only
# where a config says so.
# Validation: top-1 on independent images of the seen classes with the
# model's own head. Test: zero-shot on the 10 held-out compositions (never
# labelled, in the CLIP's captions only), with and without descriptions:
# what fine-tuning keeps of the CLIP's zero-shot ability.
#
#   python tools/train.py CONFIG --work-dir WORK_DIR \
#       --cfg-options load_from=work_dirs/finetune_clip/clip/iter_400.pth
#   python tools/evaluate.py wise-ft CONFIG WORK_DIR/iter_200.pth \
#       --zero-shot work_dirs/finetune_clip/clip/iter_400.pth --out-dir OUT
_base_ = '../../ablation/_base_/ablation_schedule_400it.py'

# the pretrained CLIP (a missing file stops the run)
load_from = 'work_dirs/finetune_clip/clip/iter_400.pth'

# Both streams and losses of iCAR here (the CLIP's captions kept: (b')); the
# labels-only configs (a) and (b) drop the caption stream and its loss.

optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=200,
         eta_min=0.),
]
train_cfg = dict(max_iters=200, val_interval=200)
default_hooks = dict(
    checkpoint=dict(
        _delete_=True,
        type='CheckpointHook',
        by_epoch=False,
        interval=200,
        max_keep_ckpts=1),
    logger=dict(interval=20))

# the evaluation loaders: 100 images a batch, in order
eval_loader = dict(
    _delete_=True,
    batch_size=100,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False))
eval_set = dict(
    type='SyntheticWorldClsDataset',
    world={{_base_.world}},
    pipeline={{_base_.test_pipeline}})

# seen classes: 20 independent images per class, the model's own head
val_dataloader = dict(
    eval_loader,
    dataset=dict(eval_set, split='val', num_per_class=20, seed=0))
val_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, ))
val_cfg = dict(_delete_=True, type='ValLoop')

# held-out compositions, zero-shot (as the demo validates)
test_dataloader = dict(
    eval_loader,
    dataset=dict(eval_set, split='heldout', num_per_class=40, seed=2))
test_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, ))
test_cfg = dict(_delete_=True, type='ZeroShotTestLoop',
                vocabularies={{_base_.heldout_vocabularies}})
