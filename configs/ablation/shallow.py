# Ablation row 4, `shallow`: shallow fusion (a linear classifier on the
# backbone feature + a separate CLIP head), as configs/icar/baselines/
# shallow-fusion_resnet18-minilm_1xb64_synthetic-world.py.
_base_ = [
    './_base_/ablation_schedule.py',
    '../_base_/models/linear_head_resnet18.py',
]

model = dict(cls_on_projection=False, cls_head={{_base_.linear_head}})
