"""mmaction2: the text recognizer head with a CLIP text tower."""
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import icar_mm  # noqa: F401
import icar_mm.downstream.action  # noqa: F401
from tiny_clip import (PROJECTION_DIM, check_clip_text_classifier,
                       clip_text_encoder, save_tiny_hf_clip)

CONFIG = ('configs/downstream/action/icar_swin3d-tiny-minilm_'
          '1xb16-8x1x1-600i_synthetic-world-clips.py')
CLASSES = ['a cat turns', 'a dog jumps', 'photo']


def test_recognizer_head_with_clip_text_tower_scores_clips(tmp_path):
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    clip_dir = save_tiny_hf_clip(str(tmp_path / 'clip'))
    head_cfg = Config.fromfile(CONFIG).model.cls_head
    head_cfg.text_classifier.update(
        text_encoder=clip_text_encoder(clip_dir), embed_dim=PROJECTION_DIM,
        freeze_text_encoder=False)
    head_cfg.in_channels = 16
    with DefaultScope.overwrite_default_scope('mmaction'):
        head = MODELS.build(head_cfg)
    head.init_weights()  # leaves CLIP's weights as they are
    text = head.text_classifier.text_encoder
    assert text.pooling == 'eos' and text.embed_dim == PROJECTION_DIM
    feats = torch.randn(2, 16, 2, 2, 2)
    head.train()
    samples = [ActionDataSample().set_gt_label(torch.tensor([i]))
               for i in (0, 3)]
    loss = head.loss(feats, samples)['loss_cls']
    assert torch.isfinite(loss)
    loss.backward()
    assert text.proj.weight.grad.abs().sum() > 0
    check_clip_text_classifier(head.text_classifier, clip_dir, CLASSES)
    head.eval()
    with torch.no_grad():
        logits = head(feats)
    assert logits.shape == (2, len(CLASSES))
    assert torch.isfinite(logits).all()
