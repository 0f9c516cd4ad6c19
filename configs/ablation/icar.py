# Ablation row 6, `icar`: iCAR (names + descriptions) under the ablation
# schedule (configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py), at
# its sweep's best setting (docs/ablation/sweep.md): lambda (the contrastive
# loss weight) 0.5, tau_cls 0.1. iCAR's other rows inherit it.
_base_ = './_base_/ablation_schedule.py'

model = dict(
    itc_loss=dict(loss_weight=0.5),
    cls_head=dict(classifier=dict(tau=0.1)))
