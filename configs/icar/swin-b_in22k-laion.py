# Short name of the design card's pretraining config.
_base_ = './icar_swin-b-roberta_8xb128_in22k-laion.py'
