# Ablation row `icar_separate_proj`: iCAR whose classifier reads its own
# projection (the retrieval-deficit hypothesis), as configs/icar/baselines/
# icar-separate-proj_resnet18-minilm_1xb64_synthetic-world.py.
_base_ = './icar.py'

model = dict(separate_cls_proj=True)
