# Ablation row `unicl`: UniCL, the image-label batch as (image, class text)
# pairs of one label-aware contrastive loss, as configs/icar/baselines/
# unicl_resnet18-minilm_1xb64_synthetic-world.py.
_base_ = './_base_/ablation_schedule.py'

model = dict(unified_contrastive=True)
