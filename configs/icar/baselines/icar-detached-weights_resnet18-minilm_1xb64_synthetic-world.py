# iCAR whose class weights the text encoder generates without gradient: the
# classification loss trains the image tower only, the text encoder learns
# from the image-text loss alone (the ablation of A2, the text encoder as a
# meta-network trained by both tasks, that keeps text-generated weights).
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(cls_head=dict(classifier=dict(detach_class_weights=True)))
