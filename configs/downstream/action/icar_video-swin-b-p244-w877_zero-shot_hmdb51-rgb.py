# Zero-shot HMDB51 with the Kinetics-400 fine-tuned iCAR Video Swin-B: swap
# the head's class list for HMDB51's (no training) and test with
#   python tools/test.py <this file> work_dirs/<k400 run>/epoch_30.pth
# HMDB51's class names are not shipped offline: `class_list_file` lists the
# 51 action folder names, sorted, one per line ("brush_hair" is read as
# "brush hair"), in the label order of the annotation list made by
# mmaction2's tools/data/hmdb51 scripts.
_base_ = ['./icar_video-swin-b-p244-w877_8xb8-32x2x1-30e_kinetics400-rgb.py']

class_list_file = 'data/hmdb51/hmdb51_classes.txt'
model = dict(
    cls_head=dict(
        test_class_texts=dict(
            source=dict(type='action-class-list', file=class_list_file,
                        dataset='HMDB51'),
            templates={{_base_.templates}},
            use_descriptions=False)))

test_dataloader = dict(
    dataset=dict(
        ann_file='data/hmdb51/hmdb51_val_split_1_videos.txt',
        data_prefix=dict(video='data/hmdb51/videos')))
