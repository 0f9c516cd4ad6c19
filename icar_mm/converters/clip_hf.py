"""icar_mm CLIP towers -> the Hugging Face CLIP layout (``CLIPModel``).

An :class:`~icar_mm.models.ICAR` whose towers are CLIP's
(``HFCLIPVisionBackbone`` + ``TextEncoder`` of a CLIP directory, with
``init_from_clip``) stores them as:

=================================  ==========================
icar_mm                            ``CLIPModel``
=================================  ==========================
``backbone.model.vision_model.*``  ``vision_model.*``
``visual_proj.weight``             ``visual_projection.weight``
``text_encoder.model.text_model.*``  ``text_model.*``
``text_encoder.proj.weight``       ``text_projection.weight``
``itc_loss.log_scale``             ``logit_scale``
=================================  ==========================

(``logit_scale`` falls back to the zero-shot classifier's
``_clip_classifier.log_scale``, then to the reference CLIP's.)
:func:`export_hf_clip` writes such a checkpoint with ``save_pretrained``,
next to the reference CLIP's tokenizer and image processor, so that
``transformers.CLIPModel.from_pretrained(out_dir)`` loads it and gives the
embeddings of the icar_mm model.
"""
import os
import os.path as osp
import shutil
from typing import Dict, List, Mapping, Tuple

import torch

from .key_report import KeyReport, compare_keys

#: icar_mm prefix -> CLIPModel prefix
PREFIXES = (('backbone.model.vision_model.', 'vision_model.'),
            ('text_encoder.model.text_model.', 'text_model.'))
#: icar_mm key -> CLIPModel key
RENAMES = {'visual_proj.weight': 'visual_projection.weight',
           'text_encoder.proj.weight': 'text_projection.weight'}
#: where the logit scale (its log) is looked for, in order
LOGIT_SCALE_KEYS = ('itc_loss.log_scale', '_clip_classifier.log_scale')


def icar_to_hf_clip_state(
    state: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], List[Tuple[str, str]]]:
    """Rename an ICAR state dict's CLIP towers to the ``CLIPModel`` keys.

    Args:
        state (Mapping): An ICAR state dict.

    Returns:
        tuple: the ``CLIPModel`` state (``logit_scale`` only if the model
        has one) and ``(key, reason)`` of the ICAR keys left out.
    """
    out, dropped = {}, []
    scale_key = next((k for k in LOGIT_SCALE_KEYS if k in state), None)
    for key, value in state.items():
        if key in RENAMES:
            out[RENAMES[key]] = value
            continue
        for src, dst in PREFIXES:
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            if key == scale_key:
                out['logit_scale'] = value.reshape(())
            else:
                dropped.append((key, 'not part of a CLIPModel'))
    if not any(k.startswith('vision_model.') for k in out) or not any(
            k.startswith('text_model.') for k in out):
        raise ValueError(
            'Not a model with CLIP towers: expected backbone.model.'
            'vision_model.* (HFCLIPVisionBackbone) and text_encoder.model.'
            'text_model.* (TextEncoder of a CLIP directory).')
    return out, dropped


def export_hf_clip(state: Mapping[str, torch.Tensor],
                   reference: str,
                   out_dir: str,
                   strict: bool = True) -> KeyReport:
    """Write an ICAR model's CLIP towers as a Hugging Face CLIP checkpoint.

    Args:
        state (Mapping): The ICAR state dict (``model.state_dict()`` or a
            checkpoint's, see :func:`.icar_checkpoint.load_state_dict`).
        reference (str): The CLIP directory (or hub id) the towers were
            built from: its config, tokenizer and image processor are
            written along.
        out_dir (str): The output directory.
        strict (bool): Refuse (``ValueError``) unless every ``CLIPModel``
            key is filled with the right shape. Defaults to True.

    Returns:
        KeyReport: The comparison with ``CLIPModel``'s keys (``dropped``:
        the ICAR keys left out).
    """
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    from icar_mm.models.utils.hf_checkpoint import read_hf_tensors
    from icar_mm.utils.pretrained import resolve_pretrained
    reference = osp.expanduser(resolve_pretrained(reference))
    converted, dropped = icar_to_hf_clip_state(state)
    if 'logit_scale' not in converted:
        converted.update(read_hf_tensors(reference, ['logit_scale']))
        dropped.append(('logit_scale',
                        f'not in the model: taken from {reference!r}'))
    config = CLIPConfig.from_pretrained(reference)
    model = CLIPModel(config)
    report = compare_keys(converted, model.state_dict(), dropped)
    if strict and not report.ok:
        raise ValueError(report.format('CLIPModel keys'))
    model.load_state_dict(converted, strict=strict)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(reference).save_pretrained(out_dir)
    processor = osp.join(reference, 'preprocessor_config.json')
    if osp.isfile(processor):
        shutil.copy(processor, osp.join(out_dir, 'preprocessor_config.json'))
    return report
