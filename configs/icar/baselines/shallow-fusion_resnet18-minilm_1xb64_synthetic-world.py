# Baseline 4: shallow fusion, i.e. naive multi-task learning: a linear
# classifier on the backbone feature + a separate CLIP head.
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(
    cls_on_projection=False,
    cls_head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=26,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        cal_acc=True),
)
