# Ablation row 6, `icar`: iCAR (names + descriptions) under the ablation
# schedule (configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py).
_base_ = './_base_/ablation_schedule.py'
