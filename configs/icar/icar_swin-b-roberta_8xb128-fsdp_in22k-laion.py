# iCAR pretraining sharded with FSDP (mmengine FlexibleRunner + FSDPStrategy):
# parameters, gradients and optimizer states of Swin-B + RoBERTa-base are
# split over the 8 GPUs, bf16 compute with fp32 reduction.
#   tools/dist_train.sh configs/icar/icar_swin-b-roberta_8xb128-fsdp_in22k-laion.py 8
# Needs CUDA: torch's FSDP refuses CPU-only machines ("FSDP needs a non-CPU
# accelerator device"). Feature-cache accumulation (model.accum_freq) is a
# DDP feature: keep accum_freq=1 here.
_base_ = './icar_swin-b-roberta_8xb128_in22k-laion.py'

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        # one FSDP unit per >= 10M parameters (Swin stages, RoBERTa layers)
        auto_wrap_policy=dict(
            type='torch.distributed.fsdp.wrap.size_based_auto_wrap_policy',
            min_num_params=int(1e7)),
        # keeps parameter names (paramwise lr / decay rules) and lets the
        # text encoder serve both branches in one step
        use_orig_params=True,
        mixed_precision=dict(
            param_dtype='bfloat16',
            reduce_dtype='float32',
            buffer_dtype='float32')),
    # full (unsharded) state dicts in checkpoints: loadable by DDP runs,
    # tools/test.py and the converters
    state_dict_cfg='full',
)
