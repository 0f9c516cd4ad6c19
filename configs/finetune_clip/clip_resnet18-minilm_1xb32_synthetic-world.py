# The "pretrained CLIP" of the synthetic world: the ablation's CLIP-only
# baseline (configs/ablation/clip.py: ResNet-18 + MiniLM, image-text
# alignment on captions of all 36 classes, no labels) on the ablation's
# first schedule (400 iterations, lr 1e-3, float32: the fine-tuning results
# were measured from it), with its weights saved at the end. The
# fine-tuning configs of this folder start from it:
#   python tools/train.py THIS_FILE --work-dir work_dirs/finetune_clip/clip
_base_ = '../ablation/_base_/ablation_schedule_400it.py'

# what configs/ablation/clip.py changes: no classifier, no labelled stream
model = dict(cls_head=None)
train_dataloader = dict(cls=None)

default_hooks = dict(
    checkpoint=dict(
        _delete_=True,
        type='CheckpointHook',
        by_epoch=False,
        interval=400,
        max_keep_ckpts=1))
