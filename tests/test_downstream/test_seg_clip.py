"""mmseg: the text cosine decode head with a CLIP text tower."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import icar_mm  # noqa: F401
from tiny_clip import (PROJECTION_DIM, check_clip_text_classifier,
                       clip_text_encoder, save_tiny_hf_clip)

pytest.importorskip('icar_mm.downstream.seg')
from mmseg.registry import MODELS  # noqa: E402

CONFIG = ('configs/downstream/seg/'
          'upernet_r18-icar-text_1xb8-600it_synthetic-world-seg-64px.py')
CLASSES = ['background', 'cat', 'dog', 'a red mat']


def test_decode_head_with_clip_text_tower_scores_pixels(tmp_path):
    clip_dir = save_tiny_hf_clip(str(tmp_path / 'clip'))
    head_cfg = Config.fromfile(CONFIG).model.decode_head
    head_cfg.text_classifier.update(
        text_encoder=clip_text_encoder(clip_dir), embed_dim=PROJECTION_DIM,
        freeze_text_encoder=False)
    head_cfg.update(in_channels=[8, 8, 16, 16], channels=16,
                    dropout_ratio=0.)
    with DefaultScope.overwrite_default_scope('mmseg'):
        head = MODELS.build(head_cfg)
    head.init_weights()  # leaves CLIP's weights as they are
    text = head.text_classifier.text_encoder
    assert text.pooling == 'eos' and text.embed_dim == PROJECTION_DIM
    feats = [torch.randn(2, c, s, s)
             for c, s in zip([8, 8, 16, 16], [16, 8, 4, 2])]
    head.train()
    logits = head(feats)
    assert logits.shape == (2, head.num_classes, 16, 16)
    logits.logsumexp(1).sum().backward()
    assert text.proj.weight.grad.abs().sum() > 0
    check_clip_text_classifier(head.text_classifier, clip_dir, CLASSES)
    head.eval()
    with torch.no_grad():
        logits = head(feats)
    assert logits.shape == (2, len(CLASSES), 16, 16)
    assert torch.isfinite(logits).all()
