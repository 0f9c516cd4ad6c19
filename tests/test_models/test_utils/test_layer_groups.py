"""Tower locking equals OpenCLIP's; layer-wise lr decay through mmpretrain.

The oracle of locking is OpenCLIP itself: a tiny OpenCLIP model is locked
with ``lock_image_tower`` / ``lock_text_tower``, its ``requires_grad`` flags
are carried through the OpenCLIP -> Hugging Face key conversion, and the
ICAR built from the converted directory with the same numbers must freeze
exactly the same tensors.
"""
import os.path as osp
import re

import pytest
import torch
from mmengine.optim import build_optim_wrapper

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from icar_mm.registry import MODELS
from tiny_clip import IMAGE_SIZE, PROJECTION_DIM, save_tiny_openclip

pytestmark = pytest.mark.usefixtures('single_thread')
pytest.importorskip('open_clip')

from icar_mm.converters.clip_openclip import (  # noqa: E402
    openclip_state_to_hf, openclip_to_hf_clip)


@pytest.fixture(scope='module')
def openclip(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('openclip'))
    name, checkpoint, _ = save_tiny_openclip(root)
    out = osp.join(root, 'hf')
    openclip_to_hf_clip(name, checkpoint, out)
    return name, checkpoint, out


def _icar(clip_dir, **kwargs):
    return MODELS.build(dict(
        type='ICAR',
        backbone=dict(type='HFCLIPVisionBackbone', pretrained=clip_dir),
        neck=None, feat_channels=32, embed_dim=PROJECTION_DIM,
        text_encoder=dict(pretrained=clip_dir, max_length=77),
        itc_loss=dict(type='ContrastiveLoss'), init_from_clip=clip_dir,
        **kwargs))


def _hf_key(icar_name: str) -> str:
    """ICAR parameter name -> ``CLIPModel`` key."""
    for src, dst in (('backbone.model.', ''),
                     ('visual_proj.weight', 'visual_projection.weight'),
                     ('text_encoder.proj.weight', 'text_projection.weight'),
                     ('text_encoder.model.', ''),
                     ('itc_loss.log_scale', 'logit_scale')):
        if icar_name.startswith(src):
            return dst + icar_name[len(src):]
    raise KeyError(icar_name)


def _openclip_trainable(name, checkpoint, image_unlocked, text_unlocked):
    """``CLIPModel`` key -> trainable, after OpenCLIP's own locking."""
    import open_clip
    model = open_clip.create_model(name)
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    if image_unlocked is not None:
        model.lock_image_tower(unlocked_groups=image_unlocked)
    if text_unlocked is not None:
        model.lock_text_tower(unlocked_layers=text_unlocked)
    flags = {
        k: torch.full(p.shape, float(p.requires_grad))
        for k, p in model.named_parameters()
    }
    converted, _ = openclip_state_to_hf(flags)
    out = {}
    for k, v in converted.items():
        assert v.min() == v.max(), k  # a converted tensor has one source
        out[k] = bool(v.max())
    return out


@pytest.mark.parametrize('image_unlocked,text_unlocked',
                         [(0, None), (1, 0), (2, 1), (3, 2), (4, 3),
                          (None, 4)])
def test_locking_freezes_what_openclip_freezes(openclip, image_unlocked,
                                               text_unlocked):
    name, checkpoint, clip_dir = openclip
    expected = _openclip_trainable(name, checkpoint, image_unlocked,
                                   text_unlocked)
    model = _icar(clip_dir, lock_image_unlocked_groups=image_unlocked,
                  lock_text_unlocked_layers=text_unlocked)
    got = {_hf_key(n): p.requires_grad for n, p in model.named_parameters()}
    assert set(got) == set(expected)
    assert got == expected
    # the numbers mean something: some locking froze and some left free
    if image_unlocked is not None and 0 < image_unlocked < 4:
        vision = [v for k, v in got.items()
                  if k.startswith(('vision_', 'visual_'))]
        assert any(vision) and not all(vision)


def test_locked_parameters_do_not_train(openclip):
    *_, clip_dir = openclip
    model = _icar(clip_dir, lock_image_unlocked_groups=1,
                  lock_text_unlocked_layers=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    pixels = torch.randn(4, 3, IMAGE_SIZE, IMAGE_SIZE)
    img = model.embed_images(pixels)
    txt = model.text_encoder(['a cat', 'a dog', 'a photo', 'a mat'])
    loss = -(img * txt).sum()
    loss.backward()
    optim.step()
    for n, p in model.named_parameters():
        if p.requires_grad and n != 'itc_loss.log_scale':
            assert p.grad is not None, n
            assert not torch.equal(p, before[n]), n
        elif not p.requires_grad:
            assert p.grad is None and torch.equal(p, before[n]), n
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        'visual_proj.weight', 'text_encoder.proj.weight',
        'itc_loss.log_scale'
    } | {
        n for n, _ in model.named_parameters()
        if re.match(r'text_encoder\.model\.text_model\.'
                    r'(encoder\.layers\.1\.|final_layer_norm\.)', n)
    }


def test_resnet_groups_are_stem_stages_projection():
    model = MODELS.build(dict(
        type='ICAR',
        backbone=dict(type='ResNet', depth=18),
        feat_channels=512, embed_dim=16,
        cls_head=dict(type='CosineClsHead', num_classes=3, in_channels=16),
        lock_image_unlocked_groups=2))
    trainable = {n.split('.')[0] + '.' + n.split('.')[1]
                 for n, p in model.named_parameters()
                 if p.requires_grad and n.startswith('backbone.')}
    assert trainable == {'backbone.layer4'}
    assert model.visual_proj.weight.requires_grad
    assert model.cls_head.fc.weight.requires_grad
    assert [len(g) for g in model.layer_groups()['image']][-1] == 1
    with pytest.raises(ValueError, match='has 6'):
        MODELS.build(dict(
            type='ICAR', backbone=dict(type='ResNet', depth=18),
            feat_channels=512, embed_dim=16,
            cls_head=dict(type='CosineClsHead', num_classes=3,
                          in_channels=16),
            lock_image_unlocked_groups=7))


def test_layer_decay_through_mmpretrains_constructor(openclip):
    *_, clip_dir = openclip
    model = _icar(clip_dir)
    rate, base = 0.5, 1e-3
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=base, weight_decay=0.05),
        constructor='LearningRateDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=rate)))
    lr = {}
    for group in wrapper.optimizer.param_groups:
        lr[group['param_name']] = group['lr']
    assert set(lr) == {n for n, _ in model.named_parameters()}

    def depth(name):
        """Expected (depth from the top) of the tiny 2-layer towers."""
        if name in ('visual_proj.weight', 'text_encoder.proj.weight',
                    'itc_loss.log_scale'):
            return 0
        if re.search(r'layers\.1\.|post_layernorm|final_layer_norm', name):
            return 1
        if re.search(r'layers\.0\.', name):
            return 2
        assert re.search(r'embeddings|pre_layrnorm', name), name
        return 3

    for name, value in lr.items():
        assert value == pytest.approx(base * rate**depth(name)), name
