# Ablation row 2, `cosine`: classification only, cosine head with parametric
# weights (A1), as configs/icar/baselines/cosine_resnet18_1xb64_synthetic-
# world.py, at its sweep's best tau_cls (docs/ablation/sweep.md): 0.03.
_base_ = './linear.py'

model = dict(
    cls_on_projection=True,
    cls_head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=26,
        in_channels=256,
        tau=0.03,
        cal_acc=True),
)
