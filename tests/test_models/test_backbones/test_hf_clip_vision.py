"""CLIP's image tower as a backbone, and ICAR built from a CLIP."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

import icar_mm  # noqa: F401
from icar_mm.apis import set_vocabulary
from icar_mm.models.backbones import CLIP_MEAN, CLIP_STD, HFCLIPVisionBackbone
from icar_mm.registry import MODELS
from repo_paths import REPO_ROOT
from tiny_clip import CONTEXT, IMAGE_SIZE, PROJECTION_DIM, save_tiny_hf_clip

pytestmark = pytest.mark.usefixtures('single_thread')
CLASSES = ['cat', 'dog', 'photo', 'a red mat', 'to a cat']


@pytest.fixture(scope='module')
def clip_dir(tmp_path_factory):
    return save_tiny_hf_clip(str(tmp_path_factory.mktemp('clip')))


@pytest.fixture(scope='module')
def clip(clip_dir):
    from transformers import AutoTokenizer, CLIPModel
    return (CLIPModel.from_pretrained(clip_dir).eval(),
            AutoTokenizer.from_pretrained(clip_dir))


def _pixels(n=3):
    return torch.randn(n, 3, IMAGE_SIZE, IMAGE_SIZE,
                       generator=torch.Generator().manual_seed(0))


def icar_from_clip(clip_dir, **kwargs):
    cfg = dict(
        type='ICAR',
        backbone=dict(type='HFCLIPVisionBackbone', pretrained=clip_dir),
        neck=None, feat_channels=32, embed_dim=PROJECTION_DIM,
        text_encoder=dict(pretrained=clip_dir, max_length=CONTEXT),
        itc_loss=dict(type='ContrastiveLoss'), init_from_clip=clip_dir)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_backbone_returns_pooled_post_layernorm_feature(clip_dir, clip):
    backbone = MODELS.build(dict(type='HFCLIPVisionBackbone',
                                 pretrained=clip_dir)).eval()
    assert isinstance(backbone, HFCLIPVisionBackbone)
    assert backbone.out_channels == 32
    x = _pixels()
    with torch.no_grad():
        out = backbone(x)
        vision = clip[0].vision_model
        hidden = vision(pixel_values=x).last_hidden_state
        expected = vision.post_layernorm(hidden[:, 0])
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (3, 32)
    assert (out[0] - expected).abs().max().item() < 1e-6
    # random towers from a config; other image sizes by interpolation
    random = HFCLIPVisionBackbone(
        config=dict(hidden_size=16, intermediate_size=32,
                    num_hidden_layers=1, num_attention_heads=2,
                    image_size=32, patch_size=8),
        interpolate_pos_encoding=True)
    assert random(torch.randn(1, 3, 48, 48))[0].shape == (1, 16)
    with pytest.raises(ValueError, match='exactly one'):
        HFCLIPVisionBackbone()
    with pytest.raises(FileNotFoundError, match='does not exist'):
        HFCLIPVisionBackbone(pretrained='/nonexistent/clip')


def test_icar_embeddings_and_zero_shot_logits_equal_clip(clip_dir, clip):
    model = icar_from_clip(clip_dir)
    model.init_weights()  # as a Runner does: leaves CLIP's weights alone
    model.eval()
    clip_model, tokenizer = clip
    x = _pixels()
    torch.testing.assert_close(model.visual_proj.weight,
                               clip_model.visual_projection.weight,
                               atol=0, rtol=0)
    torch.testing.assert_close(model.itc_loss.log_scale,
                               clip_model.logit_scale.detach(), atol=0,
                               rtol=0)
    names = set_vocabulary(model, CLASSES, templates=['{}'])
    assert names == CLASSES
    with torch.no_grad():
        ours = model.embed_images(x)
        ref = clip_model(**tokenizer(CLASSES, padding=True,
                                     return_tensors='pt'), pixel_values=x)
        expected = F.normalize(clip_model.get_image_features(pixel_values=x),
                               dim=-1)
        preds = model.predict(x)
        via_classify = model.classify(model.visual_proj(
            model.extract_feat(x)))
    assert (ours - expected).abs().max().item() < 1e-5
    logits = torch.stack([p.pred_logits for p in preds])
    # the zero-shot classifier's scale is CLIP's exp(logit_scale) (here
    # e^3, not 100): the logits are CLIP's logits_per_image
    assert (logits - ref.logits_per_image).abs().max().item() < 1e-5
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]),
        ref.logits_per_image.softmax(-1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(
        torch.stack([p.pred_logits for p in via_classify]), logits)
    # the contrastive loss starts from CLIP's scale, and trains all of it
    model.train()
    from mmpretrain.structures import DataSample
    samples = [DataSample(metainfo=dict(text=t)) for t in CLASSES[:3]]
    losses = model.loss(dict(itc=x), dict(itc=samples))
    torch.testing.assert_close(losses['itc_scale'],
                               clip_model.logit_scale.exp().detach())
    losses['loss_itc'].backward()
    assert model.visual_proj.weight.grad.abs().sum() > 0
    assert model.backbone.model.vision_model.embeddings.patch_embedding \
        .weight.grad.abs().sum() > 0
    assert model.text_encoder.proj.weight.grad.abs().sum() > 0


def test_text_head_keeps_its_tau(clip_dir, clip):
    head = dict(type='TextMetaClassifier', classifier=dict(
        type='TextClassifier', tau=0.05,
        class_texts=dict(classes=CLASSES, templates=['{}'],
                         use_descriptions=False)))
    model = icar_from_clip(clip_dir, cls_head=head).eval()
    clip_model, tokenizer = clip
    x = _pixels()
    with torch.no_grad():
        ref = clip_model(**tokenizer(CLASSES, padding=True,
                                     return_tensors='pt'), pixel_values=x)
        logits = torch.stack([p.pred_logits for p in model.predict(x)])
    scale = 20. / clip_model.logit_scale.exp()
    torch.testing.assert_close(logits, ref.logits_per_image * scale,
                               atol=1e-5, rtol=1e-5)


def test_init_from_clip_checks_the_shapes(clip_dir, tmp_path):
    with pytest.raises(ValueError, match='visual_projection.*feat_channels'):
        icar_from_clip(clip_dir, backbone=dict(type='ResNet', depth=18),
                       neck=dict(type='GlobalAveragePooling'),
                       feat_channels=512)
    with pytest.raises(ValueError, match='text_projection.*embed_dim=24'):
        icar_from_clip(clip_dir, embed_dim=16)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        icar_from_clip(clip_dir, init_from_clip=str(tmp_path / 'none'))


def test_clip_base_config_builds_with_clip_normalisation(clip_dir):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/finetune_clip/_base_/icar_clip-vit-b-32.py'))
    assert cfg.model.data_preprocessor.mean == CLIP_MEAN
    assert cfg.model.data_preprocessor.std == CLIP_STD
    assert cfg.model.neck is None
    cfg.merge_from_dict({
        'model.backbone.pretrained': clip_dir,
        'model.text_encoder.pretrained': clip_dir,
        'model.text_encoder.max_length': CONTEXT,
        'model.init_from_clip': clip_dir,
        'model.feat_channels': 32,
        'model.embed_dim': PROJECTION_DIM,
    })
    model = MODELS.build(cfg.model).eval()
    set_vocabulary(model, CLASSES, templates=['{}'])
    with torch.no_grad():
        preds = model.predict(_pixels(2))
    assert preds[0].pred_score.shape == (len(CLASSES), )
