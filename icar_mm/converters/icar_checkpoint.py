"""An icar_mm pretraining checkpoint -> host backbone file + text tower file.

The pretraining model (:class:`~icar_mm.models.ICAR`) stores ``backbone.*``
(an mmpretrain backbone), ``visual_proj.weight``, ``text_encoder.*`` (the
text tower: ``model.*`` and ``proj.weight``), ``cls_head.*`` and
``itc_loss.*``. Downstream models need

* the backbone in the host's layout, under ``backbone.`` (load it with
  ``backbone.init_cfg=dict(type='Pretrained', checkpoint=FILE,
  prefix='backbone.')``). mmpretrain's Swin and ResNet use the same key
  names and shapes as mmdet's and mmseg's, so the conversion is a checked
  copy: :func:`host_backbone_state` verifies it against the host backbone
  and reports every key the host expects but the checkpoint lacks (e.g. the
  hosts' ``norm0..norm2`` output norms, which an iCAR classification
  backbone with ``out_indices=(3, )`` does not have) and every key it
  cannot place;
* the text tower under ``text_encoder.`` (``TextClassifier``'s
  ``text_encoder.init_cfg=dict(type='Pretrained', checkpoint=FILE,
  prefix='text_encoder.')``).
"""
from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from .key_report import KeyReport, compare_keys, strip_prefix

#: top-level entries of an ICAR state dict exported to neither file
NOT_EXPORTED = ('visual_proj.', 'cls_head.', 'itc_loss.', 'neck.')


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The model state dict of a checkpoint file (``state_dict``, ``model``
    or the file itself), loaded with ``weights_only=True``."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{path}: not a checkpoint (a {type(ckpt)}).')
    for key in ('state_dict', 'model'):
        if key in ckpt and isinstance(ckpt[key], Mapping):
            return dict(ckpt[key])
    return dict(ckpt)


def split_icar_state(
    state: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor], list]:
    """Backbone (no prefix), text tower (``text_encoder.*``) and the rest.

    Args:
        state (Mapping): An ICAR state dict.

    Returns:
        tuple: backbone state without prefix, text-tower state with its
        ``text_encoder.`` prefix, ``(key, reason)`` of the keys in neither.
    """
    backbone = strip_prefix(state, 'backbone.')
    if not backbone:
        raise ValueError('No "backbone.*" keys: not an icar_mm checkpoint '
                         '(for the author layout use author_to_icar).')
    text = {k: v for k, v in state.items() if k.startswith('text_encoder.')}
    rest = [(k, 'pretraining-only (projection / classifier / loss)')
            for k in state
            if not k.startswith(('backbone.', 'text_encoder.'))]
    return backbone, text, rest


def host_backbone_state(
        backbone: Mapping[str, torch.Tensor],
        host_backbone: Optional[nn.Module] = None,
        dropped: list = ()) -> Tuple[Dict[str, torch.Tensor],
                                     Optional[KeyReport]]:
    """The backbone in the host layout, with ``backbone.`` prefix.

    Args:
        backbone (Mapping): The mmpretrain backbone state (no prefix).
        host_backbone (nn.Module, optional): The host's backbone (mmdet /
            mmseg ``SwinTransformer`` or ``ResNet``) to check against.
        dropped (list): ``(key, reason)`` already dropped upstream.

    Returns:
        tuple: ``{'backbone.' + key: tensor}`` and the
        :class:`KeyReport` against ``host_backbone`` (None without it).
    """
    report = None
    if host_backbone is not None:
        report = compare_keys(backbone, host_backbone.state_dict(), dropped)
    return {'backbone.' + k: v for k, v in backbone.items()}, report


def convert_icar_checkpoint(
        state: Mapping[str, torch.Tensor],
        host_backbone: Optional[nn.Module] = None) -> dict:
    """Split an ICAR state dict into host-backbone and text-tower states.

    Args:
        state (Mapping): ICAR state dict.
        host_backbone (nn.Module, optional): Host backbone to check against.

    Returns:
        dict: ``backbone`` (``backbone.*`` state), ``text_encoder``
        (``text_encoder.*`` state), ``report`` (KeyReport or None) and
        ``not_exported`` (``(key, reason)``).
    """
    backbone, text, rest = split_icar_state(state)
    backbone_state, report = host_backbone_state(backbone, host_backbone)
    return dict(
        backbone=backbone_state,
        text_encoder=text,
        report=report,
        not_exported=rest)
