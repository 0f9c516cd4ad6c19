# iCAR with SigLIP's sigmoid loss (Zhai et al., ICCV 2023) as its image-text
# loss instead of CLIP's softmax (InfoNCE): scale 10 and bias -10 at start,
# both learned.
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(
    itc_loss=dict(
        _delete_=True,
        type='SigmoidContrastiveLoss',
        init_temperature=0.1,
        init_bias=-10.,
        loss_weight=1.0))
