# The linear classifier of the baselines on ResNet-18's feature x (not the
# joint embedding); configs take it as `cls_head={{_base_.linear_head}}`.
linear_head = dict(
    _delete_=True,
    type='LinearClsHead',
    num_classes=26,
    in_channels=512,
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    cal_acc=True)
