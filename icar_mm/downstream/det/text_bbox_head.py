"""RoI box heads whose classification layer is iCAR's text classifier."""
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.registry import MODELS
from torch import Tensor

from icar_mm.models.text import (ClassTextBank, build_class_text_bank,
                                 build_text_classifier)


@MODELS.register_module()
class TextConvFCBBoxHead(ConvFCBBoxHead):
    """A ConvFC box head classifying RoIs against text-generated classes.

    The RoI feature of the classification branch is projected to the joint
    embedding space (``fc_cls``: Linear, no bias) and scored by a
    :class:`~icar_mm.models.text.TextClassifier` (cosine against the class
    embeddings the text encoder generates from "name, description", scaled
    by ``1 / tau``). Background has no text: a learned embedding in the
    joint space gives its logit, scaled the same way, in the last column
    (index ``num_classes``) where mmdet expects it. Regression is unchanged;
    it is class-agnostic by default, as open-vocabulary detection needs.

    Vocabulary: training scores the classes of ``text_classifier``'s
    ``class_texts``. ``test_class_texts`` (or :meth:`set_vocabulary`) is an
    evaluation vocabulary, used whenever the head is in eval mode; switching
    mode switches ``num_classes`` with it, so mmdet's post-processing and
    the loss's background index always agree with the scored classes.

    Args:
        text_classifier (dict): Config of ``TextClassifier`` (built from
            icar_mm's registry); ``tau`` defaults to 0.03 (the author's LVIS
            value). ``embed_dim`` is read from it.
        test_class_texts (dict | ClassTextBank, optional): The vocabulary
            scored in eval mode (e.g. base + novel classes). None: the
            training classes. Defaults to None.
        reg_class_agnostic (bool): One box regression for all classes.
            Must be True for a vocabulary other than the training classes.
            Defaults to True.
        num_classes (int, optional): If given, must equal the number of
            training classes (a guard against config mistakes).
        **kwargs: :class:`ConvFCBBoxHead` arguments.
    """

    def __init__(self,
                 text_classifier: Dict,
                 test_class_texts: Union[Dict, ClassTextBank, None] = None,
                 reg_class_agnostic: bool = True,
                 num_classes: Optional[int] = None,
                 **kwargs) -> None:
        text_classifier = dict(text_classifier)
        text_classifier.setdefault('tau', 0.03)
        if text_classifier.get('num_negatives') is not None:
            raise ValueError(
                f'{self.__class__.__name__}: text_classifier.num_negatives '
                '(class subsampling) is not supported: the head scores RoIs '
                'before their labels are assigned. Remove it, or freeze the '
                'text encoder (freeze_text_encoder=True) to save memory.')
        classifier = build_text_classifier(text_classifier)
        num_train = classifier.num_classes
        if num_classes is not None and num_classes != num_train:
            raise ValueError(
                f'{self.__class__.__name__}: num_classes={num_classes} but '
                f'text_classifier.class_texts has {num_train} classes; drop '
                '`num_classes` (it is read from the class texts) or fix the '
                'class list.')
        super().__init__(
            num_classes=num_train,
            reg_class_agnostic=reg_class_agnostic,
            **kwargs)
        if not self.with_cls:
            raise ValueError(f'{self.__class__.__name__} needs with_cls=True.')
        self.num_train_classes = num_train
        self.text_classifier = classifier
        embed_dim = classifier.embed_dim
        # the projection to the joint space replaces the linear classifier
        self.fc_cls = nn.Linear(self.cls_last_dim, embed_dim, bias=False)
        self.bg_embedding = nn.Parameter(
            torch.randn(embed_dim) * embed_dim**-0.5)
        self.test_vocabulary: Optional[ClassTextBank] = None
        self.set_vocabulary(test_class_texts)

    @property
    def class_names(self) -> list:
        """Names of the classes scored now (training or eval vocabulary)."""
        return self.text_classifier.class_names

    def set_vocabulary(
            self, vocabulary: Union[Dict, ClassTextBank, None]) -> None:
        """Set the classes scored in eval mode, without retraining.

        Args:
            vocabulary (dict | ClassTextBank | None): A bank or its config;
                None scores the training classes.
        """
        bank = build_class_text_bank(vocabulary)
        if (bank is not None and not self.reg_class_agnostic
                and len(bank) != self.num_train_classes):
            raise ValueError(
                f'A vocabulary of {len(bank)} classes needs class-agnostic '
                f'regression: the head regresses {self.num_train_classes} '
                'classes. Set reg_class_agnostic=True in the bbox head.')
        self.test_vocabulary = bank
        self._use_vocabulary()

    def _use_vocabulary(self) -> None:
        self.text_classifier.set_vocabulary(
            None if self.training else self.test_vocabulary)
        self.num_classes = self.text_classifier.num_classes

    def train(self, mode: bool = True) -> 'TextConvFCBBoxHead':
        super().train(mode)
        self._use_vocabulary()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Class logits (``num_classes + 1``, background last) and deltas.

        Args:
            x (Tensor): RoI features ``(N, C, H, W)``.

        Returns:
            tuple: ``(N, num_classes + 1)`` logits and the box deltas.
        """
        embeds, bbox_pred = super().forward(x)  # fc_cls projects
        logits, _ = self.text_classifier(embeds)
        bg = F.normalize(embeds, dim=-1) @ F.normalize(
            self.bg_embedding, dim=0).to(embeds.dtype)
        bg = self.text_classifier.classifier.scale * bg
        return torch.cat([logits, bg[:, None]], dim=1), bbox_pred


@MODELS.register_module()
class TextShared2FCBBoxHead(TextConvFCBBoxHead):
    """:class:`TextConvFCBBoxHead` with two shared FCs (Faster R-CNN's).

    Args:
        fc_out_channels (int): Width of the FCs. Defaults to 1024.
        **kwargs: :class:`TextConvFCBBoxHead` arguments.
    """

    def __init__(self, fc_out_channels: int = 1024, **kwargs) -> None:
        super().__init__(
            num_shared_convs=0,
            num_shared_fcs=2,
            fc_out_channels=fc_out_channels,
            **kwargs)


@MODELS.register_module()
class TextShared4Conv1FCBBoxHead(TextConvFCBBoxHead):
    """:class:`TextConvFCBBoxHead` with four shared convs and one FC.

    Args:
        fc_out_channels (int): Width of the FC. Defaults to 1024.
        **kwargs: :class:`TextConvFCBBoxHead` arguments (e.g. ``norm_cfg``).
    """

    def __init__(self, fc_out_channels: int = 1024, **kwargs) -> None:
        super().__init__(
            num_shared_convs=4,
            num_shared_fcs=1,
            fc_out_channels=fc_out_channels,
            **kwargs)
