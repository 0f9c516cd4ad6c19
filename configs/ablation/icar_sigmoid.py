# Ablation row `icar_sigmoid`: iCAR with SigLIP's sigmoid image-text loss,
# as configs/icar/baselines/icar-sigmoid_resnet18-minilm_1xb64_synthetic-
# world.py.
_base_ = './_base_/ablation_schedule.py'

model = dict(
    itc_loss=dict(
        _delete_=True,
        type='SigmoidContrastiveLoss',
        init_temperature=0.1,
        init_bias=-10.,
        loss_weight=1.0))
