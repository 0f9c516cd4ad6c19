# Ablation row 3, `clip`: image-text alignment only, as
# configs/icar/baselines/clip_resnet18-minilm_1xb64_synthetic-world.py.
_base_ = './_base_/ablation_schedule.py'

model = dict(cls_head=None)
train_dataloader = dict(cls=None)
