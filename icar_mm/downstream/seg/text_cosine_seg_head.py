"""mmseg decode heads whose classifier is iCAR's text cosine classifier."""
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmseg.models.decode_heads import FCNHead, UPerHead
from mmseg.registry import MODELS as SEG_MODELS

from icar_mm.class_texts import ClassTextBank
from icar_mm.models.text import (ScoredClassCount, TextClassifier,
                                 build_text_classifier)

_DEFAULT_INIT = dict(type='Normal', std=0.01, override=dict(name='pixel_proj'))


class TextCosineSegHeadMixin:
    """Per-pixel projection -> cosine against text class embeddings.

    Replaces ``conv_seg`` of an mmseg ``BaseDecodeHead``: ``cls_seg`` maps the
    ``channels``-d pixel features with a bias-free 1x1 convolution
    (``pixel_proj``) to the joint space and scores them with a
    :class:`TextClassifier` (tau 0.05 by default): logits
    ``(B, C, H, W) = cos(pixel, w_c) / tau`` for text-generated ``w_c``.

    Classes: the text classifier decides (training classes in train mode,
    with one random template per class per step and gradient into the text
    encoder unless it is frozen; its vocabulary in eval mode, as the cached
    template ensemble). ``num_classes`` and ``out_channels`` follow it: they
    are always the channels of the ``seg_logits`` the head predicts now.

    A head built with ``text_classifier=None`` shares the classifier of
    another head (the auxiliary head shares the decode head's, so there is
    one text encoder): :class:`TextEncoderDecoder` binds it with
    :meth:`share_text_classifier`; such a head needs ``num_classes``.
    """

    num_classes = ScoredClassCount()
    out_channels = ScoredClassCount()

    def __init__(self,
                 text_classifier: Optional[Dict] = None,
                 test_class_texts: Union[Dict, ClassTextBank, None] = None,
                 num_classes: Optional[int] = None,
                 embed_dim: Optional[int] = None,
                 init_cfg: Optional[Dict] = _DEFAULT_INIT,
                 **kwargs) -> None:
        classifier, num_train = self._build_text_classifier(
            text_classifier, test_class_texts, num_classes)
        # the host head (UPerHead, FCNHead) with its conv_seg, replaced here
        super().__init__(num_classes=num_train, init_cfg=init_cfg, **kwargs)
        if self.out_channels != self.num_classes:
            raise ValueError(f'{type(self).__name__} has no binary mode; '
                             'leave out `out_channels`.')
        del self.conv_seg
        self.num_train_classes = num_train
        if classifier is not None:
            self.text_classifier = classifier
            embed_dim = classifier.embed_dim
        elif embed_dim is None:
            raise ValueError(
                f'{type(self).__name__} with text_classifier=None needs '
                '`embed_dim` (the shared classifier\'s).')
        self.pixel_proj = nn.Conv2d(self.channels, embed_dim, 1, bias=False)

    def _build_text_classifier(
            self, text_classifier: Optional[Dict],
            test_class_texts: Union[Dict, ClassTextBank, None],
            num_classes: Optional[int]) -> tuple:
        """The classifier (None: shared later) and the training classes."""
        if text_classifier is None:
            if num_classes is None:
                raise ValueError(
                    f'{type(self).__name__} with text_classifier=None shares '
                    "another head's classifier and needs `num_classes` (the "
                    'number of training classes).')
            if test_class_texts is not None:
                raise ValueError(
                    f'{type(self).__name__} with text_classifier=None scores '
                    "the shared classifier's vocabulary; set "
                    'test_class_texts on the head that owns it.')
            return None, num_classes
        if test_class_texts is not None:
            text_classifier = dict(text_classifier,
                                   vocabulary=test_class_texts)
        # every pixel is scored against every class: no subsampling
        classifier = build_text_classifier(
            text_classifier, allow_subsampling=False)
        num_train = classifier.num_training_classes
        if num_classes is not None and num_classes != num_train:
            raise ValueError(
                f'{type(self).__name__}: num_classes={num_classes} but '
                f'text_classifier.class_texts has {num_train} classes; set '
                'num_classes to the class-text count or leave it out.')
        return classifier, num_train

    def share_text_classifier(self, classifier: TextClassifier) -> None:
        """Use another head's classifier, without owning it.

        The classifier is not registered as a submodule here (its weights
        are saved once, under the owning head).

        Args:
            classifier (TextClassifier): The owning head's classifier.
        """
        if 'text_classifier' in self._modules:
            raise ValueError(f'{type(self).__name__} owns a text classifier; '
                             'build it with text_classifier=None to share.')
        if len(classifier.class_texts) != self.num_train_classes:
            raise ValueError(
                f'{type(self).__name__}: num_classes={self.num_train_classes}'
                f' but the shared classifier has '
                f'{len(classifier.class_texts)} training classes.')
        if classifier.embed_dim != self.pixel_proj.out_channels:
            raise ValueError(
                f'{type(self).__name__}: embed_dim='
                f'{self.pixel_proj.out_channels} but the shared classifier '
                f'has embed_dim={classifier.embed_dim}.')
        object.__setattr__(self, 'text_classifier', classifier)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Cosine logits of every pixel: ``(B, C, H, W)``."""
        if getattr(self, 'text_classifier', None) is None:
            raise RuntimeError(
                f'{type(self).__name__} built with text_classifier=None has '
                'no classifier yet: use it inside TextEncoderDecoder (which '
                'shares the decode head\'s) or call share_text_classifier.')
        if self.dropout is not None:
            feat = self.dropout(feat)
        embeds = self.pixel_proj(feat).permute(0, 2, 3, 1)
        logits, _ = self.text_classifier(embeds)
        return logits.permute(0, 3, 1, 2).contiguous()


@SEG_MODELS.register_module()
class TextCosineUPerHead(TextCosineSegHeadMixin, UPerHead):
    """UPerNet decode head ending in per-pixel text cosine classification.

    Args:
        text_classifier (dict, optional): Config of
            :class:`icar_mm.models.text.TextClassifier` (``text_encoder``,
            ``class_texts`` = the training classes in label order, ``tau``
            (0.05), ``embed_dim``, ``freeze_text_encoder``). None shares
            another head's (see :class:`TextCosineSegHeadMixin`).
        test_class_texts (dict | ClassTextBank, optional): Inference
            vocabulary (open-vocabulary evaluation; the classifier's
            ``vocabulary``); None scores the training classes. It must list
            the test dataset's classes in label order.
        num_classes (int, optional): Number of training classes; checked
            against ``text_classifier.class_texts``.
        embed_dim (int, optional): Joint dimension; only with
            ``text_classifier=None``.
        **kwargs: :class:`mmseg.models.decode_heads.UPerHead` arguments.
    """


@SEG_MODELS.register_module()
class TextCosineFCNHead(TextCosineSegHeadMixin, FCNHead):
    """FCN (auxiliary) head ending in per-pixel text cosine classification.

    Args:
        text_classifier (dict, optional): As in :class:`TextCosineUPerHead`;
            None (the default) shares the decode head's classifier.
        test_class_texts (dict | ClassTextBank, optional): Inference
            vocabulary of an owned classifier.
        num_classes (int, optional): Number of training classes (required
            when sharing).
        embed_dim (int, optional): Joint dimension (required when sharing).
        **kwargs: :class:`mmseg.models.decode_heads.FCNHead` arguments.
    """
