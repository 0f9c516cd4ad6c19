# iCAR pretraining with a 4x larger contrastive batch on the same GPUs:
# 8 GPUs x 512 image-text pairs (global 4,096) and 512 image-label samples,
# each processed in 4 micro-batches of 128 with feature-cache accumulation
# (OpenCLIP's --accum-freq): the gradients are those of the full 4,096-pair
# contrastive loss, the activation memory that of 128 samples.
#   tools/dist_train.sh configs/icar/icar_swin-b-roberta_8xb512-accum4_in22k-laion.py 8 --amp
_base_ = './icar_swin-b-roberta_8xb128_in22k-laion.py'

model = dict(accum_freq=4)
# its train step runs the micro-batches (plain DDP would run one big step)
model_wrapper_cfg = dict(type='FeatureCacheDistributedDataParallel',
                         broadcast_buffers=False)
train_dataloader = dict(
    cls=dict(batch_size=512),
    itc=dict(batch_size=512))
# lr is scaled from 8 x 128 by auto_scale_lr (--auto-scale-lr)
