# Baseline 4: shallow fusion, i.e. naive multi-task learning: a linear
# classifier on the backbone feature + a separate CLIP head.
_base_ = [
    '../icar_resnet18-minilm_1xb64_synthetic-world.py',
    '../../_base_/models/linear_head_resnet18.py',
]

model = dict(cls_on_projection=False, cls_head={{_base_.linear_head}})
