"""Inflate a 2D Swin Transformer into mmaction2's Video Swin (Swin3D).

iCAR fine-tunes its image backbone on Kinetics-400 as a Video Swin
(Liu et al. 2022) inflated from the 2D checkpoint. This module turns the 2D
Swin weights of an icar_mm checkpoint (mmpretrain's ``SwinTransformer``
layout under ``backbone.``) or of an original (Microsoft) Swin checkpoint
into a state dict of mmaction2's ``SwinTransformer3D``:

* **patch embedding** ``(C, 3, ph, pw)`` -> ``(C, 3, pt, ph, pw)``:
  ``temporal_init='repeat'`` copies the kernel over the ``pt`` frames and
  divides by ``pt`` (Video Swin, I3D); ``'centre'`` puts the 2D kernel on
  frame ``pt // 2`` and zeros elsewhere. Both give, on a clip of identical
  frames, exactly the 2D patch embedding of one frame.
* **relative position bias tables** ``((2Wh'-1)(2Ww'-1), nH)`` -> the 3D
  window ``((2Wd-1)(2Wh-1)(2Ww-1), nH)``: resized bicubically when the
  spatial window differs (as Video Swin does), then tiled over the
  ``2Wd - 1`` temporal offsets, so the bias depends on the spatial offset
  only. ``relative_position_index`` buffers are recomputed for the 3D
  window (the 2D ones are dropped).
* **key renames** (mmpretrain -> mmaction2): ``stages.i`` -> ``layers.i``,
  ``attn.w_msa.`` -> ``attn.``, ``ffn.layers.0.0`` / ``ffn.layers.1`` ->
  ``mlp.fc1`` / ``mlp.fc2``, ``patch_embed.projection`` ->
  ``patch_embed.proj``.
* **patch merging**: mmpretrain merges 2x2 neighbours with ``nn.Unfold``
  (channel-major, neighbour order (0,0), (0,1), (1,0), (1,1) in (h, w));
  Swin / Video Swin concatenate ``x0..x3`` = (0,0), (1,0), (0,1), (1,1)
  neighbour-major. The input dimension of ``downsample.norm`` and
  ``downsample.reduction`` is permuted accordingly.
* the final norm keeps its name (``norm3`` in mmpretrain; an original
  checkpoint's ``norm`` becomes ``norm{last stage}``).

With these, a Video Swin fed a clip of ``T`` identical frames computes
exactly the 2D Swin's features of one frame at every temporal position
(attention over identical temporal copies with a temporally constant bias
averages the same values), as long as the 2D and 3D windows tile the
feature maps without padding; the test checks it numerically.

Every 2D key that is not used is reported, and :func:`check_state_dict`
reports missing, unexpected and mis-shaped keys against a target model.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

#: ways to inflate the patch embedding kernel over time
TEMPORAL_INITS = ('repeat', 'centre')

_MMPRETRAIN_RENAMES: Sequence[Tuple[str, str]] = (
    (r'^stages\.(\d+)\.', r'layers.\1.'),
    (r'\.attn\.w_msa\.', '.attn.'),
    (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'),
    (r'\.ffn\.layers\.1\.', '.mlp.fc2.'),
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
)
# keys a 2D layout carries that the 3D model recomputes or has no use for
_DERIVED = ('relative_position_index', 'attn_mask')


def relative_position_index_3d(window_size: Sequence[int]) -> torch.Tensor:
    """The ``relative_position_index`` buffer of mmaction2's Swin3D.

    Args:
        window_size (Sequence[int]): ``(Wd, Wh, Ww)``.

    Returns:
        Tensor: ``(Wd*Wh*Ww, Wd*Wh*Ww)`` int64 indices into the bias table.
    """
    wd, wh, ww = window_size
    coords = torch.stack(
        torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww),
                       indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel = rel + torch.tensor([wd - 1, wh - 1, ww - 1])
    return (rel[..., 0] * (2 * wh - 1) * (2 * ww - 1) +
            rel[..., 1] * (2 * ww - 1) + rel[..., 2])


def inflate_patch_embed(weight: torch.Tensor, patch_size_t: int,
                        temporal_init: str = 'repeat') -> torch.Tensor:
    """Inflate a 2D patch-embedding kernel over time.

    Args:
        weight (Tensor): ``(C, in, ph, pw)`` kernel.
        patch_size_t (int): Temporal patch size ``pt``.
        temporal_init (str): ``'repeat'`` (copy / pt) or ``'centre'``
            (kernel on frame ``pt // 2``, zeros elsewhere).

    Returns:
        Tensor: ``(C, in, pt, ph, pw)`` kernel.
    """
    if temporal_init not in TEMPORAL_INITS:
        raise ValueError(f'temporal_init must be one of {TEMPORAL_INITS}, '
                         f'got {temporal_init!r}')
    if weight.dim() != 4:
        raise ValueError('patch embedding weight must be 4D (C, in, ph, pw), '
                         f'got shape {tuple(weight.shape)}')
    if temporal_init == 'repeat':
        return weight.unsqueeze(2).repeat(1, 1, patch_size_t, 1,
                                          1) / patch_size_t
    out = weight.new_zeros(weight.shape[:2] + (patch_size_t, ) +
                           weight.shape[2:])
    out[:, :, patch_size_t // 2] = weight
    return out


def inflate_relative_position_bias(table: torch.Tensor,
                                   window_size: Sequence[int]
                                   ) -> torch.Tensor:
    """Resize a 2D relative position bias table and tile it over time.

    Args:
        table (Tensor): ``((2W'-1)^2, nH)`` 2D table of a square window.
        window_size (Sequence[int]): Target 3D window ``(Wd, Wh, Ww)``.

    Returns:
        Tensor: ``((2Wd-1)(2Wh-1)(2Ww-1), nH)`` table.
    """
    wd, wh, ww = window_size
    length, heads = table.shape
    side = int(round(length**0.5))
    if side * side != length:
        raise ValueError('a 2D relative position bias table must have '
                         f'(2W-1)^2 rows, got {length}')
    size = (2 * wh - 1, 2 * ww - 1)
    if (side, side) != size:
        table = F.interpolate(
            table.t().reshape(1, heads, side, side).float(),
            size=size,
            mode='bicubic',
            align_corners=False).reshape(heads, -1).t().to(table.dtype)
    return table.repeat(2 * wd - 1, 1)


def _merge_permutation(channels: int) -> torch.Tensor:
    """Index ``p`` with ``x_swin[..., j] = x_mmpretrain[..., p[j]]``.

    Swin input index ``j = k * C + c`` (neighbour k of (0,0), (1,0), (0,1),
    (1,1)); mmpretrain's unfold index ``c * 4 + k'`` with k' of (0,0),
    (0,1), (1,0), (1,1): k -> k' is [0, 2, 1, 3].
    """
    k_unfold = torch.tensor([0, 2, 1, 3])
    c = torch.arange(channels)
    return (c[None, :] * 4 + k_unfold[:, None]).reshape(-1)


def _layout_of(state_dict: Dict[str, torch.Tensor]) -> str:
    if any(k.startswith('stages.') for k in state_dict):
        return 'mmpretrain'
    if any(k.startswith('layers.') for k in state_dict):
        return 'swin'
    raise ValueError(
        'Not a 2D Swin state dict: no `stages.*` (mmpretrain) or `layers.*` '
        '(original Swin) keys. Pass the backbone weights only (strip the '
        '`backbone.` prefix, see `extract_backbone`).')


def inflate_swin2d_state_dict(
        state_dict: Dict[str, torch.Tensor],
        window_size: Sequence[int] = (8, 7, 7),
        patch_size_t: int = 2,
        temporal_init: str = 'repeat'
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Convert 2D Swin backbone weights to mmaction2's ``SwinTransformer3D``.

    Args:
        state_dict (dict): 2D backbone weights, mmpretrain
            ``SwinTransformer`` layout (``stages.*``) or original Swin
            (``layers.*``), without a ``backbone.`` prefix.
        window_size (Sequence[int]): 3D window ``(Wd, Wh, Ww)``.
            Defaults to ``(8, 7, 7)``.
        patch_size_t (int): Temporal patch size. Defaults to 2.
        temporal_init (str): Patch embedding inflation, see
            :func:`inflate_patch_embed`. Defaults to ``'repeat'``.

    Returns:
        tuple: The 3D state dict and the 2D keys that were not used.
    """
    if len(window_size) != 3:
        raise ValueError(f'window_size must be (Wd, Wh, Ww), got '
                         f'{window_size}')
    layout = _layout_of(state_dict)
    stage_ids = {
        int(m.group(1))
        for k in state_dict
        for m in [re.match(r'^(?:stages|layers)\.(\d+)\.', k)] if m
    }
    last_stage = max(stage_ids)
    index_3d = relative_position_index_3d(window_size)
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unused = []
    for key, value in state_dict.items():
        if any(d in key for d in _DERIVED):
            continue
        new = key
        if layout == 'mmpretrain':
            for pattern, repl in _MMPRETRAIN_RENAMES:
                new = re.sub(pattern, repl, new)
        elif key.startswith('norm.'):
            new = f'norm{last_stage}.' + key[len('norm.'):]
        if not (new.startswith('layers.') or new.startswith('patch_embed.')
                or re.match(r'^norm\d+\.', new)):
            unused.append(key)
            continue
        if new == 'patch_embed.proj.weight':
            value = inflate_patch_embed(value, patch_size_t, temporal_init)
        elif new.endswith('attn.relative_position_bias_table'):
            value = inflate_relative_position_bias(value, window_size)
            out[new.replace('_bias_table', '_index')] = index_3d.clone()
        elif layout == 'mmpretrain' and '.downsample.' in new:
            if new.endswith('reduction.weight'):
                value = value[:, _merge_permutation(value.shape[1] // 4)]
            elif new.endswith(('norm.weight', 'norm.bias')):
                value = value[_merge_permutation(value.shape[0] // 4)]
        out[new] = value
    return out, unused


def check_state_dict(converted: Dict[str, torch.Tensor],
                     target: Dict[str, torch.Tensor]) -> Dict[str, list]:
    """Compare converted weights with a model's own state dict.

    Args:
        converted (dict): The converted state dict.
        target (dict): ``model.state_dict()`` of the model to load into.

    Returns:
        dict: ``missing`` (in the model, not converted), ``unexpected``
        (converted, not in the model) and ``shape`` (``(key, converted
        shape, model shape)``) lists; all empty when the weights fit.
    """
    shape = [(k, tuple(v.shape), tuple(target[k].shape))
             for k, v in converted.items()
             if k in target and tuple(v.shape) != tuple(target[k].shape)]
    return dict(
        missing=sorted(set(target) - set(converted)),
        unexpected=sorted(set(converted) - set(target)),
        shape=shape)


def extract_backbone(state_dict: Dict[str, torch.Tensor],
                     prefix: str = 'backbone.') -> Dict[str, torch.Tensor]:
    """The entries under ``prefix``, with the prefix removed."""
    out = {k[len(prefix):]: v for k, v in state_dict.items()
           if k.startswith(prefix)}
    if not out:
        raise KeyError(f'No `{prefix}*` keys in the checkpoint (found e.g. '
                       f'{list(state_dict)[:5]}).')
    return out


def icar_to_video_recognizer(
        state_dict: Dict[str, torch.Tensor],
        window_size: Sequence[int] = (8, 7, 7),
        patch_size_t: int = 2,
        temporal_init: str = 'repeat',
        inflate: bool = True,
        with_head: bool = True,
        head_prefix: str = 'cls_head.'
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """An icar_mm pretraining state dict -> an mmaction2 recognizer's.

    The backbone goes to ``backbone.*`` (inflated to Swin3D when
    ``inflate``, else copied, e.g. for a 2D recognizer with an mmpretrain
    backbone); with ``with_head`` the visual projection and the text tower
    go to the :class:`TextRecognizerHead` (``cls_head.proj.weight``,
    ``cls_head.text_classifier.text_encoder.*``), so the recognizer scores
    classes through their text before any fine-tuning (zero-shot).

    Args:
        state_dict (dict): The icar_mm checkpoint's ``state_dict``.
        window_size, patch_size_t, temporal_init: See
            :func:`inflate_swin2d_state_dict`.
        inflate (bool): Inflate a 2D Swin backbone. Defaults to True.
        with_head (bool): Convert projection and text tower too.
            Defaults to True.
        head_prefix (str): Name of the head in the recognizer.
            Defaults to ``'cls_head.'``.

    Returns:
        tuple: The recognizer state dict and the unused source keys.
    """
    backbone = extract_backbone(state_dict)
    if inflate:
        backbone, unused = inflate_swin2d_state_dict(
            backbone, window_size, patch_size_t, temporal_init)
        unused = ['backbone.' + k for k in unused]
    else:
        unused = []
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict(
        ('backbone.' + k, v) for k, v in backbone.items())
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            continue
        if with_head and key == 'visual_proj.weight':
            out[head_prefix + 'proj.weight'] = value
        elif with_head and key.startswith('text_encoder.'):
            out[head_prefix + 'text_classifier.' + key] = value
        else:
            unused.append(key)
    return out, unused


def load_icar_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of an icar_mm checkpoint file (weights only)."""
    from mmengine.runner import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{path}: not a checkpoint with a `state_dict`.')
    return state


def format_report(unused: List[str],
                  check: Optional[Dict[str, list]] = None) -> str:
    """A human-readable report of unused and mismatched keys."""
    lines = [f'unused source keys ({len(unused)}): {unused}']
    if check is not None:
        for name in ('missing', 'unexpected', 'shape'):
            lines.append(f'{name} ({len(check[name])}): {check[name]}')
    return '\n'.join(lines)
