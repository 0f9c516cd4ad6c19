"""CLIP checkpoints in and out: OpenCLIP -> Hugging Face CLIP directory ->
icar_mm towers, and icar_mm towers -> Hugging Face CLIP."""
import os.path as osp
import runpy
import sys

import pytest
import torch
import torch.nn.functional as F

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from icar_mm.apis import set_vocabulary
from icar_mm.converters.clip_hf import export_hf_clip, icar_to_hf_clip_state
from icar_mm.registry import MODELS
from tiny_clip import (CONTEXT, IMAGE_SIZE, PROJECTION_DIM, TEXTS,
                       save_tiny_hf_clip, save_tiny_openclip)

pytestmark = pytest.mark.usefixtures('single_thread')
open_clip = pytest.importorskip('open_clip')
from icar_mm.converters.clip_openclip import (  # noqa: E402
    load_openclip_state, openclip_hf_config, openclip_to_hf_clip)

CLASSES = ['cat', 'dog', 'a photo of a dog', 'a red mat']


def _pixels(n=3, seed=0):
    return torch.randn(n, 3, IMAGE_SIZE, IMAGE_SIZE,
                       generator=torch.Generator().manual_seed(seed))


def _icar(clip_dir, max_length=77, **kwargs):
    return MODELS.build(dict(
        type='ICAR',
        backbone=dict(type='HFCLIPVisionBackbone', pretrained=clip_dir),
        neck=None, feat_channels=32, embed_dim=PROJECTION_DIM,
        text_encoder=dict(pretrained=clip_dir, max_length=max_length),
        itc_loss=dict(type='ContrastiveLoss'), init_from_clip=clip_dir,
        **kwargs))


# ----------------------------------------------------------- OpenCLIP in
@pytest.fixture(scope='module', params=[False, True],
                ids=['gelu', 'quick_gelu'])
def openclip_dir(request, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('openclip'))
    name, checkpoint, model = save_tiny_openclip(root,
                                                 quick_gelu=request.param)
    out = osp.join(root, 'hf')
    report = openclip_to_hf_clip(name, checkpoint, out)
    assert report.ok and not report['dropped']
    return name, checkpoint, model, out


def test_openclip_towers_equal_encode_text_and_encode_image(openclip_dir):
    name, _, oc, out = openclip_dir
    model = _icar(out).eval()
    tokenizer = open_clip.get_tokenizer(name)
    # the converted tokenizer gives OpenCLIP's ids (OpenCLIP pads with 0)
    ids = tokenizer(TEXTS)
    for row, ours in zip(ids, model.text_encoder.tokenizer(TEXTS)):
        assert row[:len(ours)].tolist() == ours.tolist()
        assert not row[len(ours):].any()
    x = _pixels()
    set_vocabulary(model, CLASSES, templates=['{}'])
    with torch.no_grad():
        text = model.text_encoder(TEXTS)
        image = model.embed_images(x)
        oc_text = oc.encode_text(ids, normalize=True)
        oc_image = oc.encode_image(x, normalize=True)
        logits = torch.stack([p.pred_logits for p in model.predict(x)])
        oc_logits, _ = oc.get_logits(x, tokenizer(CLASSES))
    assert (text - oc_text).abs().max().item() < 1e-5
    assert (image - oc_image).abs().max().item() < 1e-5
    assert (logits - oc_logits).abs().max().item() < 1e-5  # scale e^2.5
    torch.testing.assert_close(model.itc_loss.log_scale,
                               oc.logit_scale.detach())


def test_openclip_activation_matters(openclip_dir, tmp_path):
    """The oracle is sharp: the other activation gives other embeddings."""
    name, checkpoint, oc, _ = openclip_dir
    quick = bool(open_clip.get_model_config(name).get('quick_gelu'))
    out = str(tmp_path / 'other')
    openclip_to_hf_clip(name, checkpoint, out, quick_gelu=not quick)
    model = _icar(out).eval()
    with torch.no_grad():
        diff = (model.embed_images(_pixels()) -
                oc.encode_image(_pixels(), normalize=True)).abs().max()
    assert diff > 1e-3


def test_openclip_training_checkpoint_and_weights_only(openclip_dir,
                                                       tmp_path):
    _, checkpoint, _, _ = openclip_dir
    state = torch.load(checkpoint, weights_only=True)
    wrapped = tmp_path / 'epoch_1.pt'
    torch.save(dict(epoch=1, state_dict={'module.' + k: v
                                         for k, v in state.items()}),
               wrapped)
    loaded = load_openclip_state(str(wrapped))
    assert loaded.keys() == state.keys()
    bad = tmp_path / 'pickled.pt'
    torch.save(dict(state_dict=state, args=object()), bad)
    with pytest.raises(Exception, match='[Ww]eights'):
        load_openclip_state(str(bad))


@pytest.mark.parametrize('name, match', [
    ('RN50', 'ResNet'),
    ('ViT-B-16-SigLIP', 'init_logit_bias|tokenizer|unsupported'),
    ('coca_ViT-B-32', 'multimodal_cfg'),
    ('ViT-B-32', None),
])
def test_openclip_architectures_outside_clipmodel_are_refused(name, match):
    cfg = open_clip.get_model_config(name)
    if match is None:
        config = openclip_hf_config(cfg)
        assert config.projection_dim == 512
        assert config.vision_config.num_attention_heads == 12
        assert config.text_config.hidden_act == 'gelu'
        return
    with pytest.raises(ValueError, match=match):
        openclip_hf_config(cfg)


# ------------------------------------------------------- export to HF
@pytest.fixture(scope='module')
def clip_dir(tmp_path_factory):
    return save_tiny_hf_clip(str(tmp_path_factory.mktemp('clip')))


def _changed_icar(clip_dir):
    """An icar_mm model loaded from CLIP whose weights then moved."""
    model = _icar(clip_dir, max_length=CONTEXT)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen))
    return model.eval()


def _check_equal(model, out_dir):
    from transformers import AutoTokenizer, CLIPModel
    clip = CLIPModel.from_pretrained(out_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    x = _pixels(seed=2)
    batch = tokenizer(TEXTS, padding=True, truncation=True,
                      max_length=CONTEXT, return_tensors='pt')
    with torch.no_grad():
        image = F.normalize(clip.get_image_features(pixel_values=x), dim=-1)
        text = F.normalize(clip.get_text_features(**batch), dim=-1)
        image_diff = (model.embed_images(x) - image).abs().max().item()
        text_diff = (model.text_encoder(TEXTS) - text).abs().max().item()
    assert image_diff < 1e-5 and text_diff < 1e-5, (image_diff, text_diff)
    torch.testing.assert_close(clip.logit_scale.detach(),
                               model.itc_loss.log_scale.detach())
    return clip


def test_export_round_trip_through_transformers(clip_dir, tmp_path):
    from transformers import CLIPModel
    model = _changed_icar(clip_dir)
    out = str(tmp_path / 'hf')
    report = export_hf_clip(model.state_dict(), clip_dir, out)
    assert report.ok
    assert {k for k, _ in report['dropped']} == {
        '_clip_classifier.log_scale', '_clip_classifier.step'}
    exported = _check_equal(model, out)
    # the weights moved: the export is not the source CLIP
    source = CLIPModel.from_pretrained(clip_dir)
    assert not torch.equal(source.visual_projection.weight,
                           exported.visual_projection.weight)


def test_export_refuses_models_without_clip_towers(clip_dir, tmp_path):
    model = _icar(clip_dir, max_length=CONTEXT)
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith('backbone.')}
    with pytest.raises(ValueError, match='CLIP towers'):
        icar_to_hf_clip_state(state)
    state = dict(model.state_dict())
    del state['visual_proj.weight']
    with pytest.raises(ValueError, match='missing'):
        export_hf_clip(state, clip_dir, str(tmp_path / 'out'))


def _run_tool(path, args, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [path] + [str(a) for a in args])
    runpy.run_path(path, run_name='__main__')
    return capsys.readouterr().out


def test_clip_converter_tools(clip_dir, openclip_dir, tmp_path,
                              monkeypatch, capsys):
    model = _changed_icar(clip_dir)
    ckpt = tmp_path / 'iter_10.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'hf'
    stdout = _run_tool('tools/model_converters/icar_to_hf_clip.py',
                       [ckpt, clip_dir, out], monkeypatch, capsys)
    assert 'CLIPModel keys: OK' in stdout
    _check_equal(model, str(out))

    name, checkpoint, oc, _ = openclip_dir
    out = tmp_path / 'from_openclip'
    stdout = _run_tool('tools/model_converters/openclip_to_hf_clip.py',
                       [name, checkpoint, out], monkeypatch, capsys)
    assert 'CLIPModel keys: OK' in stdout
    towers = _icar(str(out)).eval()
    with torch.no_grad():
        diff = (towers.embed_images(_pixels()) -
                oc.encode_image(_pixels(), normalize=True)).abs().max()
    assert diff < 1e-5
