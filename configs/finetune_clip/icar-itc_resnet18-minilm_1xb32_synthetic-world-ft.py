# (b') iCAR fine-tuning of the synthetic world's CLIP with its contrastive
# loss kept on the captions (32 per iteration): labels and captions
# together, as iCAR trains.
_base_ = './_base_/synthetic-world_ft.py'
