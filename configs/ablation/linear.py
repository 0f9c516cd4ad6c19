# Ablation row 1, `linear`: classification only, linear head, as
# configs/icar/baselines/linear_resnet18_1xb64_synthetic-world.py: shallow
# fusion without its image-text branch (no text tower, no caption stream).
_base_ = './shallow.py'

model = dict(text_encoder=None, itc_loss=None)
train_dataloader = dict(itc=None)
