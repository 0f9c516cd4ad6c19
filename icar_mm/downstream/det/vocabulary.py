"""Swap a detector's vocabulary at inference (open-vocabulary detection)."""
from typing import Dict, List, Union

import torch.nn as nn

from icar_mm.apis.vocabulary import set_vocabulary
from icar_mm.class_texts import ClassTextBank, build_class_text_bank
from .text_bbox_head import TextConvFCBBoxHead


def set_detector_vocabulary(
        detector: nn.Module,
        vocabulary: Union[Dict, ClassTextBank, None]) -> List[str]:
    """Make every text box head of ``detector`` score ``vocabulary``.

    :func:`icar_mm.apis.set_vocabulary` plus what a detector needs: the box
    heads must regress class-agnostically, a mask head must be class-
    agnostic when the number of classes changes (its ``num_classes``
    follows), and ``detector.dataset_meta['classes']`` names the labels for
    visualisers and ``DetInferencer``.

    Args:
        detector (nn.Module): An mmdet detector with
            :class:`TextConvFCBBoxHead` box head(s) (cascades included).
        vocabulary (dict | ClassTextBank | None): The classes; None returns
            to the training classes.

    Returns:
        list[str]: The class names now scored (in eval mode).
    """
    heads = [
        m for m in detector.modules() if isinstance(m, TextConvFCBBoxHead)
    ]
    if not heads:
        raise ValueError(
            f'{type(detector).__name__} has no TextConvFCBBoxHead: its '
            'vocabulary is fixed. Use a Text*BBoxHead as roi_head.bbox_head.')
    bank = build_class_text_bank(vocabulary)
    num = len(bank) if bank is not None else heads[0].num_train_classes
    for head in heads:
        head.check_vocabulary(num)
    roi_head = getattr(detector, 'roi_head', None)
    mask_head = getattr(roi_head, 'mask_head', None)
    mask_heads = mask_head if isinstance(mask_head, nn.ModuleList) else [
        mask_head
    ]
    for head in mask_heads:
        if head is None:
            continue
        if not getattr(head, 'class_agnostic', False) and \
                head.num_classes != num:
            raise ValueError(
                f'The mask head predicts {head.num_classes} class-specific '
                f'masks but the vocabulary has {num} classes: set '
                'roi_head.mask_head.class_agnostic=True for open-vocabulary '
                'instance segmentation.')
    names = set_vocabulary(detector, bank)
    for head in mask_heads:
        if head is not None:
            head.num_classes = num
    meta = dict(getattr(detector, 'dataset_meta', None) or {})
    meta['classes'] = tuple(names)
    detector.dataset_meta = meta
    return names
