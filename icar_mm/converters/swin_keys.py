"""Swin Transformer key layouts and the mappings between them.

Three layouts exist for the same weights:

* **OpenMMLab** (mmpretrain ``SwinTransformer`` v3 = mmdet's = mmseg's):
  ``patch_embed.projection``, ``stages.{i}.blocks.{j}.attn.w_msa.*``,
  ``ffn.layers.0.0`` / ``ffn.layers.1``, ``stages.{i}.downsample.{reduction,
  norm}`` in ``nn.Unfold`` channel order, ``norm{i}`` after each output
  stage. mmpretrain 1.x, mmdet 3.x and mmseg 1.x use the same names and
  shapes, so mmpretrain -> mmdet/mmseg is the identity on the keys they
  share; what differs is *which* keys exist: the hosts put a ``norm{i}``
  after every stage in ``out_indices`` (usually all four) while an iCAR
  classification backbone has only the last one (:func:`output_norms`).
* **Official** (microsoft/Swin-Transformer): ``patch_embed.proj``,
  ``layers.{i}.blocks.{j}.attn.*``, ``mlp.fc1`` / ``mlp.fc2``,
  ``layers.{i}.downsample`` in concatenation order ``x0, x1, x2, x3``
  (``x1`` = odd rows, ``x2`` = odd columns), one final ``norm``; buffers
  ``relative_position_index`` and ``attn_mask``.
* **Author** (iCAR/iCLIP releases): the official layout with the renames
  ``relative_position_bias_table -> rel_pos_embed_table``,
  ``relative_position_index -> relative_coords``,
  ``downsample.reduction -> downsample.channel_reduction`` and
  ``attn_mask -> atten_mask_matrix`` (the names the author's detection
  converter undoes).

The concatenation <-> unfold reordering of the patch-merging weights is
mmdet's ``swin_converter`` (``correct_unfold_*_order``) and its inverse.
"""
import re
from typing import Dict, List, Mapping, Tuple

import torch

#: author name <- official name
AUTHOR_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('relative_position_bias_table', 'rel_pos_embed_table'),
    ('relative_position_index', 'relative_coords'),
    ('downsample.reduction', 'downsample.channel_reduction'),
    ('attn_mask', 'atten_mask_matrix'),
)

# concatenation order (x0, x1, x2, x3) <-> unfold order (x0, x2, x1, x3)
_ORDER = [0, 2, 1, 3]


def unfold_reduction_order(weight: torch.Tensor) -> torch.Tensor:
    """Official patch-merging reduction weight -> unfold order."""
    out_c, in_c = weight.shape
    weight = weight.reshape(out_c, 4, in_c // 4)[:, _ORDER, :]
    return weight.transpose(1, 2).reshape(out_c, in_c)


def concat_reduction_order(weight: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`unfold_reduction_order`."""
    out_c, in_c = weight.shape
    weight = weight.reshape(out_c, in_c // 4, 4).transpose(1, 2)
    return weight[:, _ORDER, :].reshape(out_c, in_c)


def unfold_norm_order(weight: torch.Tensor) -> torch.Tensor:
    """Official patch-merging norm weight/bias -> unfold order."""
    in_c = weight.shape[0]
    return weight.reshape(4, in_c // 4)[_ORDER, :].transpose(0, 1).reshape(
        in_c)


def concat_norm_order(weight: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`unfold_norm_order`."""
    in_c = weight.shape[0]
    return weight.reshape(in_c // 4, 4).transpose(0, 1)[_ORDER, :].reshape(
        in_c)


def num_stages(state: Mapping[str, torch.Tensor]) -> int:
    """Number of stages of a Swin state dict (either layout)."""
    ids = [
        int(m.group(2)) for m in (re.match(r'(stages|layers)\.(\d+)\.', k)
                                  for k in state) if m
    ]
    if not ids:
        raise ValueError('Not a Swin state dict: no "stages.N." or '
                         '"layers.N." keys.')
    return max(ids) + 1


def output_norms(state: Mapping[str, torch.Tensor]) -> List[int]:
    """Stages with an output norm (``norm{i}``) in an OpenMMLab state."""
    return sorted(
        int(m.group(1)) for m in (re.match(r'norm(\d+)\.weight$', k)
                                  for k in state) if m)


#: block renames inside a stage: (official, OpenMMLab)
BLOCK_RENAMES = (('.attn.', '.attn.w_msa.'), ('.mlp.fc1.', '.ffn.layers.0.0.'),
                 ('.mlp.fc2.', '.ffn.layers.1.'))


def _stage_key(key: str, value: torch.Tensor, to_openmmlab: bool
               ) -> Tuple[str, torch.Tensor]:
    """A stage's key (after the ``layers.`` / ``stages.`` prefix) and value
    in the other layout: one block rename, or the patch-merging reorder."""
    for official, openmmlab in BLOCK_RENAMES:
        old, new = ((official, openmmlab) if to_openmmlab else
                    (openmmlab, official))
        if old in key:
            return key.replace(old, new), value
    if '.downsample.reduction.' in key:
        reorder = unfold_reduction_order if to_openmmlab else \
            concat_reduction_order
        return key, reorder(value)
    if '.downsample.norm.' in key:
        reorder = unfold_norm_order if to_openmmlab else concat_norm_order
        return key, reorder(value)
    return key, value


def official_to_openmmlab(
        state: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], List[Tuple[str, str]]]:
    """Official Swin keys -> OpenMMLab keys (mmpretrain/mmdet/mmseg).

    The final ``norm`` becomes ``norm{last stage}`` (the norm before global
    pooling, mmpretrain's ``out_indices=(3, )``). ``attn_mask`` buffers and
    a classification ``head`` are dropped (and reported).

    Args:
        state (Mapping): Backbone state dict without prefix.

    Returns:
        tuple: The converted dict and ``(key, reason)`` of dropped keys.
    """
    last = num_stages(state) - 1
    out, dropped = {}, []
    for key, value in state.items():
        if key.endswith('attn_mask'):
            dropped.append((key, 'shift-window mask, rebuilt by the model'))
            continue
        if key.startswith('head.'):
            dropped.append((key, 'classification head'))
            continue
        new = key
        if key.startswith('layers.'):
            new, value = _stage_key(key[len('layers.'):], value, True)
            new = 'stages.' + new
        elif key.startswith('patch_embed.proj.'):
            new = key.replace('patch_embed.proj.', 'patch_embed.projection.')
        elif key.startswith('norm.'):
            new = f'norm{last}.' + key[len('norm.'):]
        out[new] = value
    return out, dropped


def openmmlab_to_official(
        state: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], List[Tuple[str, str]]]:
    """Inverse of :func:`official_to_openmmlab`.

    Output norms other than the last stage's have no official counterpart
    and are dropped (reported).
    """
    last = num_stages(state) - 1
    out, dropped = {}, []
    for key, value in state.items():
        new = key
        if key.startswith('stages.'):
            new, value = _stage_key(key[len('stages.'):], value, False)
            new = 'layers.' + new
        elif key.startswith('patch_embed.projection.'):
            new = key.replace('patch_embed.projection.', 'patch_embed.proj.')
        else:
            m = re.match(r'norm(\d+)\.(.*)$', key)
            if m:
                if int(m.group(1)) != last:
                    dropped.append((key, 'output norm of an inner stage'))
                    continue
                new = 'norm.' + m.group(2)
        out[new] = value
    return out, dropped


def official_to_author(state: Mapping[str, torch.Tensor]) -> Dict:
    """Apply the author's renames to official Swin keys."""
    out = {}
    for key, value in state.items():
        for official, author in AUTHOR_RENAMES:
            key = key.replace(official, author)
        out[key] = value
    return out


def author_to_official(state: Mapping[str, torch.Tensor]) -> Dict:
    """Undo the author's renames (inverse of :func:`official_to_author`)."""
    out = {}
    for key, value in state.items():
        for official, author in AUTHOR_RENAMES:
            key = key.replace(author, official)
        out[key] = value
    return out
