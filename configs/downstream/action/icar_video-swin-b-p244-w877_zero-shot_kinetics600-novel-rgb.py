# Zero-shot on the Kinetics-600 classes that are not in Kinetics-400, with
# the Kinetics-400 fine-tuned iCAR Video Swin-B: swap the head's class list
# (no training) and test with
#   python tools/test.py <this file> work_dirs/<k400 run>/epoch_30.pth
# `class_list_file` is the Kinetics-600 label map (one name per line, not
# shipped offline); the Kinetics-400 classes (shipped, through torchvision)
# are removed from it, leaving the novel classes in label-map order. The
# annotation list must hold the validation videos of those classes only,
# labelled by their index in that order.
_base_ = ['./icar_video-swin-b-p244-w877_8xb8-32x2x1-30e_kinetics400-rgb.py']

class_list_file = 'data/kinetics600/label_map_k600.txt'
model = dict(
    cls_head=dict(
        test_class_texts=dict(
            source=dict(type='action-class-list', file=class_list_file,
                        dataset='Kinetics-600',
                        exclude_source=dict(type='kinetics-400')),
            templates={{_base_.templates}},
            use_descriptions=False)))

test_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics600/kinetics600_novel_val_list_videos.txt',
        data_prefix=dict(video='data/kinetics600/videos_val')))
