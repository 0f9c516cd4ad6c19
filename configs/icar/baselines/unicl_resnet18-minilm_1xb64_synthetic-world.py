# Rival: UniCL (Yang et al., CVPR 2022), same towers and data. No
# classification loss: the image-label batch enters the contrastive loss as
# (image, class text) pairs, the class texts ("{name}, {description}", one
# template per class per step) encoded by the shared text encoder, with
# same-class pairs as positives; each caption pair is its own label.
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(unified_contrastive=True)
