# Ablation row `icar_detached_weights`: iCAR whose class weights carry no
# gradient into the text tower (the classification loss does not train it),
# as configs/icar/baselines/icar-detached-weights_resnet18-minilm_1xb64_
# synthetic-world.py; otherwise iCAR's row (./icar.py).
_base_ = './icar.py'

model = dict(cls_head=dict(classifier=dict(detach_class_weights=True)))
