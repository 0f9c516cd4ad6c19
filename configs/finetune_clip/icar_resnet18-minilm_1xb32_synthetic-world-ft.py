# (b) iCAR fine-tuning of the synthetic world's CLIP: its text classifier
# (class weights generated from "name, description" by the CLIP's own text
# tower, which keeps training) on the seen classes, cross-entropy.
_base_ = './_base_/synthetic-world_ft.py'

# labels only
train_dataloader = dict(itc=None)
model = dict(itc_loss=None)
