# Baseline 2: classification only, cosine head with parametric weights (A1).
_base_ = './linear_resnet18_1xb64_synthetic-world.py'

model = dict(
    cls_on_projection=True,
    cls_head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=26,
        in_channels=256,
        tau=0.05,
        cal_acc=True),
)
