# Ablation row 5, `icar_names`: iCAR without descriptions (A1 + A2), as
# configs/icar/baselines/icar-names_resnet18-minilm_1xb64_synthetic-world.py.
_base_ = './icar.py'

model = dict(
    cls_head=dict(
        classifier=dict(class_texts=dict(use_descriptions=False))))
