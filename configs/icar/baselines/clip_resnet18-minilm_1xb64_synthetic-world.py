# Baseline 3: image-text alignment only (CLIP), same towers and data.
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(cls_head=None)
train_dataloader = dict(cls=None)
