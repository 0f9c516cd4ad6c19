# iCAR whose classifier reads a projection of its own: backbone and text
# encoder stay shared, but the joint image-text embedding (retrieval,
# zero-shot tools) no longer receives the classification loss.
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(separate_cls_proj=True)
