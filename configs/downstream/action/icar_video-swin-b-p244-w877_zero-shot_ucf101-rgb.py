# Zero-shot UCF101 with the Kinetics-400 fine-tuned iCAR Video Swin-B: swap
# the head's class list for UCF101's (no training) and test with
#   python tools/test.py <this file> work_dirs/<k400 run>/epoch_30.pth
# UCF101's class names are not shipped offline: point `class_list_file` at
# the split files' classInd.txt ("1 ApplyEyeMakeup" lines are understood).
# Annotation lists as made by mmaction2's tools/data/ucf101 scripts
# (0-based labels in classInd order).
_base_ = ['./icar_video-swin-b-p244-w877_8xb8-32x2x1-30e_kinetics400-rgb.py']

class_list_file = 'data/ucf101/annotations/classInd.txt'
model = dict(
    cls_head=dict(
        test_class_texts=dict(
            source=dict(type='action-class-list', file=class_list_file,
                        dataset='UCF101'),
            templates={{_base_.templates}},
            use_descriptions=False)))

test_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_val_split_1_videos.txt',
        data_prefix=dict(video='data/ucf101/videos')))
