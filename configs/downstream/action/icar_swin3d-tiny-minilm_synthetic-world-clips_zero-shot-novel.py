# Zero-shot transfer on the synthetic world's clips: the recognizer trained
# on the 26 base classes scores the 10 held-out (colour, motion) classes
# through their text alone. No training: swap the class list and test.
#   python tools/test.py configs/downstream/action/<this file> CKPT
_base_ = ['./icar_swin3d-tiny-minilm_1xb16-8x1x1-600i_synthetic-world-clips.py']

model = dict(
    cls_head=dict(
        test_class_texts=dict(
            source=dict(type='synthetic_world_clips', split='novel'),
            templates={{_base_.templates}})))
test_dataloader = dict(
    dataset=dict(split='novel', num_clips=10 * 20))
