"""The author's released checkpoint layout <-> icar_mm's.

The author's checkpoints hold, under the top-level ``model`` entry:

================================  =========================================
author                            icar_mm (:class:`~icar_mm.models.ICAR`)
================================  =========================================
``visual_model.backbone.*``       ``backbone.*``: official Swin layout with
                                  the author's renames undone, then mapped
                                  to mmpretrain's (:mod:`.swin_keys`)
``visual_model.projector.*``      ``visual_proj.*``
``sentence_model.projector.*``    ``text_encoder.proj.*``
``sentence_model.model.*`` or     ``text_encoder.model.*`` (the Hugging Face
``sentence_model.<hf key>``       model)
``logit_scale``                   ``itc_loss.log_scale``
================================  =========================================

Keys in no row, and dropped buffers (``atten_mask_matrix``), are reported.
The text tower's names below ``sentence_model.`` are the Hugging Face
model's own (``embeddings.*``, ``encoder.*``): give the converter the target
ICAR model (``expected``) so that it reports every key that does not land.
"""
from typing import Dict, Mapping, Optional, Tuple

import torch

from . import swin_keys
from .key_report import KeyReport, compare_keys, strip_prefix

AUTHOR_BACKBONE = 'visual_model.backbone.'
AUTHOR_PROJECTOR = 'visual_model.projector.'
AUTHOR_TEXT = 'sentence_model.'


def _text_key(rest: str) -> str:
    if rest.startswith('projector.'):
        return 'text_encoder.proj.' + rest[len('projector.'):]
    if rest.startswith('model.'):
        rest = rest[len('model.'):]
    return 'text_encoder.model.' + rest


def author_to_icar(
        state: Mapping[str, torch.Tensor],
        expected: Optional[Mapping[str, torch.Tensor]] = None
) -> Tuple[Dict[str, torch.Tensor], KeyReport]:
    """Convert the author's layout to an ICAR state dict.

    Args:
        state (Mapping): The author's ``model`` state dict.
        expected (Mapping, optional): The target ICAR model's
            ``state_dict()``; without it only dropped / unplaced keys are
            reported.

    Returns:
        tuple: The ICAR state dict and its :class:`KeyReport` (``unexpected``
        also lists author keys in no known group).
    """
    backbone = swin_keys.author_to_official(strip_prefix(
        state, AUTHOR_BACKBONE))
    backbone, dropped = swin_keys.official_to_openmmlab(backbone)
    dropped = [(AUTHOR_BACKBONE + k, why) for k, why in dropped]
    out = {'backbone.' + k: v for k, v in backbone.items()}
    unplaced = []
    for key, value in state.items():
        if key.startswith(AUTHOR_BACKBONE):
            continue
        if key.startswith(AUTHOR_PROJECTOR):
            out['visual_proj.' + key[len(AUTHOR_PROJECTOR):]] = value
        elif key.startswith(AUTHOR_TEXT):
            out[_text_key(key[len(AUTHOR_TEXT):])] = value
        elif key == 'logit_scale':
            out['itc_loss.log_scale'] = value.reshape(())
        else:
            unplaced.append(key)
    if expected is not None:
        report = compare_keys(out, expected, dropped)
    else:
        report = KeyReport(
            missing=[], unexpected=[], shape_mismatch=[], dropped=dropped)
    report['unexpected'] = sorted(report['unexpected'] +
                                  [f'{k} (author key, no rule)'
                                   for k in unplaced])
    return out, report


def icar_to_author(state: Mapping[str, torch.Tensor]) -> Dict:
    """The inverse mapping (ICAR -> author layout), for tests and exports.

    Only the groups of :func:`author_to_icar` are written; the classifier's
    and loss's other buffers are left out.
    """
    backbone, _ = swin_keys.openmmlab_to_official(
        strip_prefix(state, 'backbone.'))
    out = {
        AUTHOR_BACKBONE + k: v
        for k, v in swin_keys.official_to_author(backbone).items()
    }
    for key, value in state.items():
        if key.startswith('visual_proj.'):
            out[AUTHOR_PROJECTOR + key[len('visual_proj.'):]] = value
        elif key.startswith('text_encoder.proj.'):
            out[AUTHOR_TEXT + 'projector.' +
                key[len('text_encoder.proj.'):]] = value
        elif key.startswith('text_encoder.model.'):
            out[AUTHOR_TEXT + key[len('text_encoder.model.'):]] = value
        elif key == 'itc_loss.log_scale':
            out['logit_scale'] = value.reshape(1)
    return out
