# Ablation row `icar_sigmoid`: iCAR with SigLIP's sigmoid image-text loss,
# as configs/icar/baselines/icar-sigmoid_resnet18-minilm_1xb64_synthetic-
# world.py; otherwise iCAR's row (./icar.py).
_base_ = './icar.py'

model = dict(
    itc_loss=dict(
        _delete_=True,
        type='SigmoidContrastiveLoss',
        init_temperature=0.1,
        init_bias=-10.,
        # the weight of iCAR's contrastive branch (its sweep's best)
        loss_weight={{_base_.model.itc_loss.loss_weight}}))
