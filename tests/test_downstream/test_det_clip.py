"""mmdet: the text-classified box head with a CLIP text tower."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import icar_mm  # noqa: F401
from tiny_clip import (PROJECTION_DIM, check_clip_text_classifier,
                       clip_text_encoder, save_tiny_hf_clip)

pytest.importorskip('mmdet')
from mmdet.registry import MODELS  # noqa: E402

import icar_mm.downstream.det  # noqa: E402,F401

CONFIG = ('configs/downstream/det/'
          'faster-rcnn_r18-text_fpn_1xb8_synthetic-world-ov.py')
CLASSES = ['cat', 'dog', 'a red mat']


def test_box_head_with_clip_text_tower_scores_rois(tmp_path):
    clip_dir = save_tiny_hf_clip(str(tmp_path / 'clip'))
    head_cfg = Config.fromfile(CONFIG).model.roi_head.bbox_head
    head_cfg.text_classifier.update(
        text_encoder=clip_text_encoder(clip_dir), embed_dim=PROJECTION_DIM,
        freeze_text_encoder=False)
    head_cfg.update(in_channels=8, fc_out_channels=32)
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(head_cfg)
    head.init_weights()  # leaves CLIP's weights as they are
    text = head.text_classifier.text_encoder
    assert text.pooling == 'eos' and text.embed_dim == PROJECTION_DIM
    # training: the detection logits reach CLIP's text tower
    head.train()
    logits, deltas = head(torch.randn(3, 8, 7, 7))
    assert logits.shape == (3, head.num_classes + 1) and deltas.shape == (3, 4)
    logits.logsumexp(-1).sum().backward()
    assert text.proj.weight.grad.abs().sum() > 0
    # a vocabulary of CLIP's text features: scored by the same head
    check_clip_text_classifier(head.text_classifier, clip_dir, CLASSES)
    head.eval()
    with torch.no_grad():
        logits, _ = head(torch.randn(2, 8, 7, 7))
    assert head.num_classes == len(CLASSES)
    assert logits.shape == (2, len(CLASSES) + 1)
    assert torch.isfinite(logits).all()
