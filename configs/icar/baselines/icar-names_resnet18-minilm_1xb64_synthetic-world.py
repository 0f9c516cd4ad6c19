# Baseline 5: iCAR without descriptions (A1 + A2): class texts are the names.
_base_ = '../icar_resnet18-minilm_1xb64_synthetic-world.py'

model = dict(
    cls_head=dict(
        classifier=dict(class_texts=dict(use_descriptions=False))))
