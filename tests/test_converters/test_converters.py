"""Checkpoint converters: icar_mm -> mmdet/mmseg Swin; author -> icar."""
import runpy
import sys

import pytest
import torch

import icar_mm  # noqa: F401
from icar_mm.converters import swin_keys
from icar_mm.converters.author_layout import author_to_icar, icar_to_author
from icar_mm.converters.icar_checkpoint import convert_icar_checkpoint
from icar_mm.models.text import TextEncoder
from tiny_models import TINY_TEXT

SWIN = dict(embed_dims=16, depths=[2, 2], num_heads=[1, 2], window_size=4)


def _mmpretrain_swin(out_indices=(0, 1)):
    from mmpretrain.models import SwinTransformer
    torch.manual_seed(0)
    swin = SwinTransformer(
        arch=dict(embed_dims=16, depths=[2, 2], num_heads=[1, 2]),
        img_size=64, window_size=4, out_indices=out_indices,
        drop_path_rate=0.)
    with torch.no_grad():  # non-trivial weights everywhere
        for p in swin.parameters():
            p.normal_(0, 0.2)
    swin.eval()
    return swin


def _icar_state(out_indices=(0, 1)):
    """A tiny ICAR-like state dict with a mmpretrain Swin backbone."""
    swin = _mmpretrain_swin(out_indices)
    state = {'backbone.' + k: v for k, v in swin.state_dict().items()}
    text = TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=8)
    state.update({'text_encoder.' + k: v
                  for k, v in text.state_dict().items()})
    state['visual_proj.weight'] = torch.randn(8, 32)
    state['itc_loss.log_scale'] = torch.tensor(2.5)
    state['cls_head.classifier.log_scale'] = torch.tensor(3.0)
    return swin, state


def _host_swin(host, out_indices=(0, 1)):
    if host == 'mmdet':
        from mmdet.models.backbones import SwinTransformer
    else:
        from mmseg.models.backbones import SwinTransformer
    swin = SwinTransformer(pretrain_img_size=64, strides=(4, 2),
                           out_indices=out_indices, drop_path_rate=0.,
                           **SWIN)
    swin.eval()  # (its train() returns None)
    return swin


@pytest.mark.parametrize('host', ['mmdet', 'mmseg'])
def test_icar_swin_loads_strictly_into_host_and_gives_same_features(host):
    swin, state = _icar_state()
    host_swin = _host_swin(host)
    out = convert_icar_checkpoint(state, host_swin)
    report = out['report']
    assert report.ok, report.format()
    assert sorted(k for k, _ in out['not_exported']) == [
        'cls_head.classifier.log_scale', 'itc_loss.log_scale',
        'visual_proj.weight']
    backbone = {k[len('backbone.'):]: v for k, v in out['backbone'].items()}
    result = host_swin.load_state_dict(backbone, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # the architectures agree: identical multi-scale features, also on a
    # size that needs window padding
    for size in [(64, 64), (72, 88)]:
        x = torch.randn(2, 3, *size)
        with torch.no_grad():
            for a, b in zip(swin(x), host_swin(x)):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the text-tower file keeps its prefix for TextClassifier's init_cfg
    assert set(out['text_encoder']) == {
        k for k in state if k.startswith('text_encoder.')}


def test_missing_host_output_norms_are_reported():
    """An iCAR classification backbone has only the last stage's norm."""
    _, state = _icar_state(out_indices=(1, ))
    report = convert_icar_checkpoint(state, _host_swin('mmdet'))['report']
    assert not report.ok
    assert report['missing'] == ['norm0.bias', 'norm0.weight']
    assert not report['unexpected'] and not report['shape_mismatch']
    assert 'norm0.weight' in report.format()


def test_shape_mismatch_is_reported():
    _, state = _icar_state()
    host = _host_swin('mmdet')
    state['backbone.norm1.weight'] = torch.ones(5)
    report = convert_icar_checkpoint(state, host)['report']
    assert report['shape_mismatch'] == [('norm1.weight', (5, ), (32, ))]


def test_official_layout_matches_mmdet_swin_converter():
    """Our official -> OpenMMLab mapping equals mmdet's own converter."""
    from mmdet.models.backbones.swin import swin_converter
    swin = _mmpretrain_swin(out_indices=(1, ))
    official, dropped = swin_keys.openmmlab_to_official(swin.state_dict())
    assert 'layers.0.downsample.reduction.weight' in official
    assert 'norm.weight' in official and not dropped
    ours, _ = swin_keys.official_to_openmmlab(official)
    theirs = swin_converter(dict(official))
    theirs = {k[len('backbone.'):]: v for k, v in theirs.items()}
    theirs['norm1.weight'] = theirs.pop('norm.weight')
    theirs['norm1.bias'] = theirs.pop('norm.bias')
    assert ours.keys() == theirs.keys()
    for k in ours:
        torch.testing.assert_close(ours[k], theirs[k], rtol=0, atol=0)
    # the reordering is a real permutation, and we undo it exactly
    red = 'stages.0.downsample.reduction.weight'
    assert not torch.equal(official['layers.0.downsample.reduction.weight'],
                           ours[red])
    for k, v in swin.state_dict().items():
        torch.testing.assert_close(ours[k], v, rtol=0, atol=0)


def test_author_layout_round_trip_and_unmatched_keys():
    _, state = _icar_state(out_indices=(1, ))
    state = {k: v for k, v in state.items() if not k.startswith('cls_head')}
    author = icar_to_author(state)
    # the author's renames are in place
    keys = '\n'.join(author)
    for name in ('rel_pos_embed_table', 'relative_coords',
                 'downsample.channel_reduction', 'visual_model.projector.',
                 'sentence_model.projector.', 'logit_scale'):
        assert name in keys
    for name in ('relative_position_bias_table', 'w_msa', 'stages.'):
        assert name not in keys
    # extra author keys: a shift mask buffer (dropped) and an unknown key
    author['visual_model.backbone.layers.0.blocks.1.atten_mask_matrix'] = \
        torch.zeros(1)
    author['queue_ptr'] = torch.zeros(1)
    back, report = author_to_icar(author, expected=state)
    assert report['missing'] == []
    assert report['unexpected'] == ['queue_ptr (author key, no rule)']
    assert report['shape_mismatch'] == []
    assert [k for k, _ in report['dropped']] == [
        'visual_model.backbone.layers.0.blocks.1.attn_mask']
    assert back.keys() == state.keys()
    for k in state:
        torch.testing.assert_close(back[k], state[k].reshape(back[k].shape),
                                   rtol=0, atol=0)


def _run_tool(path, args, monkeypatch, capsys):
    """Run a tool's ``main`` in this process (no interpreter start-up)."""
    monkeypatch.setattr(sys, 'argv', [path] + [str(a) for a in args])
    runpy.run_path(path, run_name='__main__')
    return capsys.readouterr().out


def test_converter_tools(tmp_path, monkeypatch, capsys):
    _, state = _icar_state()
    src = tmp_path / 'icar.pth'
    torch.save(dict(state_dict=state, meta=dict()), src)
    out = tmp_path / 'out'
    stdout = _run_tool(
        'tools/model_converters/icar_to_mmdet_mmseg.py',
        [src, out, '--host', 'mmdet', '--strict', '--backbone-cfg',
         "dict(type='SwinTransformer', embed_dims=16, depths=[2, 2], "
         "num_heads=[1, 2], window_size=4, strides=(4, 2), "
         "out_indices=(0, 1))"], monkeypatch, capsys)
    assert 'backbone keys: OK' in stdout
    backbone = torch.load(out / 'backbone_mmdet.pth', weights_only=True)
    assert set(backbone['state_dict']) == {
        k for k in state if k.startswith('backbone.')}
    text = torch.load(out / 'text_encoder.pth', weights_only=True)
    assert set(text['state_dict']) == {
        k for k in state if k.startswith('text_encoder.')}

    author = tmp_path / 'author.pth'
    torch.save(dict(model=icar_to_author(state)), author)
    stdout = _run_tool('tools/model_converters/author_to_icar.py',
                       [author, tmp_path / 'back.pth'], monkeypatch, capsys)
    assert 'dropped (0)' in stdout
    back = torch.load(tmp_path / 'back.pth', weights_only=True)['state_dict']
    assert 'backbone.stages.0.downsample.reduction.weight' in back
