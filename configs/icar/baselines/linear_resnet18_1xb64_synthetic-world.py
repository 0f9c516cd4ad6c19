# Baseline 1: classification only, linear head (same backbone, data, schedule).
_base_ = [
    '../icar_resnet18-minilm_1xb64_synthetic-world.py',
    '../../_base_/models/linear_head_resnet18.py',
]

model = dict(
    text_encoder=None,
    itc_loss=None,
    cls_on_projection=False,
    cls_head={{_base_.linear_head}})
train_dataloader = dict(itc=None)
# no text tower: no zero-shot; validate on the seen classes instead
val_dataloader = dict(dataset=dict(split='val', num_per_class=10))
val_cfg = dict(_delete_=True, type='ValLoop')
test_dataloader = val_dataloader
test_cfg = dict(_delete_=True, type='TestLoop')
