# (a) The usual fine-tuning of a CLIP (WiSE-FT's and FLYP's baseline): a
# parametric head on the image embedding, initialised from the zero-shot
# class weights (the text embeddings of "name, description" of the seen
# classes) and trained with cross-entropy; the text tower is frozen. A
# cosine head at iCAR's temperature, so that (a) and (b) differ only in
# where the class weights come from.
_base_ = './_base_/synthetic-world_ft.py'

# labels only
train_dataloader = dict(itc=None)
model = dict(
    itc_loss=None,
    cls_on_projection=True,
    cls_head=dict(
        _delete_=True,
        type='CosineClsHead',
        num_classes=26,
        in_channels=256,
        tau=0.05,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        cal_acc=True))

custom_hooks = _base_.custom_hooks + [
    dict(type='TextInitClassifierHook',
         vocabulary={{_base_.model.cls_head.classifier.class_texts}},
         head_attr='cls_head.fc.weight',
         freeze_text_encoder=True),
]
