# Open-vocabulary COCO (48 base / 17 novel classes): train on the 48 base
# classes only, evaluate on all 65 with the vocabulary swapped to their
# texts; mmdet's OVCocoMetric reports base_ap / novel_ap (and AP50).
# Class-agnostic mask head (a class-specific one cannot follow the swap).
# Annotations: the 65-class OV-COCO split files (instances_train2017_seen_2
# / instances_val2017_all_2, as used by OVR-CNN / Detic / mmdet's
# grounding-DINO 48/17 config) under data/coco/annotations/.
_base_ = './mask-rcnn_swin-b-icar_fpn_text-4conv1fc_1x_coco.py'

base_classes = ('person', 'bicycle', 'car', 'motorcycle', 'train', 'truck',
                'boat', 'bench', 'bird', 'horse', 'sheep', 'bear', 'zebra',
                'giraffe', 'backpack', 'handbag', 'suitcase', 'frisbee',
                'skis', 'kite', 'surfboard', 'bottle', 'fork', 'spoon', 'bowl',
                'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
                'pizza', 'donut', 'chair', 'bed', 'toilet', 'tv', 'laptop',
                'mouse', 'remote', 'microwave', 'oven', 'toaster',
                'refrigerator', 'book', 'clock', 'vase', 'toothbrush')  # 48
novel_classes = ('airplane', 'bus', 'cat', 'dog', 'cow', 'elephant',
                 'umbrella', 'tie', 'snowboard', 'skateboard', 'cup', 'knife',
                 'cake', 'couch', 'keyboard', 'sink', 'scissors')  # 17
all_classes = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'kite', 'skateboard',
    'surfboard', 'bottle', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana',
    'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'pizza', 'donut',
    'cake', 'chair', 'couch', 'bed', 'toilet', 'tv', 'laptop', 'mouse',
    'remote', 'keyboard', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'toothbrush')  # 65

model = dict(
    roi_head=dict(
        bbox_head=dict(
            text_classifier=dict(
                class_texts=dict(
                    _delete_=True,
                    classes=base_classes,
                    templates='imagenet-simple',
                    use_descriptions=False)),
            test_class_texts=dict(
                classes=all_classes,
                templates='imagenet-simple',
                use_descriptions=False)),
        mask_head=dict(num_classes=1, class_agnostic=True)))

data_root = 'data/coco/'
train_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_train2017_seen_2.json',
        metainfo=dict(classes=base_classes)))
val_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_val2017_all_2.json',
        metainfo=dict(
            classes=all_classes,
            base_classes=base_classes,
            novel_classes=novel_classes)))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='OVCocoMetric',
    ann_file=data_root + 'annotations/instances_val2017_all_2.json',
    metric=['bbox'])
test_evaluator = val_evaluator
