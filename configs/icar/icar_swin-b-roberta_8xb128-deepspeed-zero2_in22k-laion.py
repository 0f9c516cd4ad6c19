# iCAR pretraining with DeepSpeed ZeRO stage 2 (mmengine FlexibleRunner +
# DeepSpeedStrategy): optimizer states and gradients sharded over the GPUs,
# bf16. Needs `pip install deepspeed` (not in requirements: CUDA only).
#   tools/dist_train.sh configs/icar/icar_swin-b-roberta_8xb128-deepspeed-zero2_in22k-laion.py 8
_base_ = './icar_swin-b-roberta_8xb128_in22k-laion.py'

runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        reduce_scatter=True,
        allgather_bucket_size=int(5e8),
        reduce_bucket_size=int(5e8),
        overlap_comm=True,
        contiguous_gradients=True),
    gradient_clipping=5.0,
)
# DeepSpeed owns the optimizer step and the gradient clipping
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999)),
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
