"""RoI box heads whose classification layer is iCAR's text classifier."""
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.registry import MODELS
from torch import Tensor

from icar_mm.class_texts import ClassTextBank
from icar_mm.models.text import ScoredClassCount, build_text_classifier


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

    Classes: the text classifier decides (training classes in train mode,
    its vocabulary in eval mode; swap it with
    :func:`~icar_mm.downstream.det.set_detector_vocabulary`), and
    ``num_classes`` follows it, so mmdet's post-processing and the loss's
    background index always agree with the scored classes.

    Args:
        text_classifier (dict): Config of ``TextClassifier`` (built in
            icar_mm's scope); ``tau`` defaults to 0.03 (the author's LVIS
            value); class subsampling is refused (RoIs are scored before
            their labels are assigned).
        test_class_texts (dict | ClassTextBank, optional): The vocabulary
            scored in eval mode (e.g. base + novel classes), i.e. the
            classifier's ``vocabulary``. None: the training classes.
            Defaults to None.
        reg_class_agnostic (bool): One box regression for all classes.
            Must be True for a vocabulary other than the training classes.
            Defaults to True.
        num_classes (int, optional): If given, must equal the number of
            training classes (a guard against config mistakes).
        **kwargs: :class:`ConvFCBBoxHead` arguments.
    """

    num_classes = ScoredClassCount()
    #: the shared layers of a preset (the subclasses below)
    shared_layers: Dict[str, int] = {}

    def __init__(self,
                 text_classifier: Dict,
                 test_class_texts: Union[Dict, ClassTextBank, None] = None,
                 reg_class_agnostic: bool = True,
                 num_classes: Optional[int] = None,
                 **kwargs) -> None:
        if test_class_texts is not None:
            text_classifier = dict(text_classifier,
                                   vocabulary=test_class_texts)
        classifier = build_text_classifier(
            text_classifier, tau=0.03, allow_subsampling=False)
        num_train = classifier.num_training_classes
        if num_classes is not None and num_classes != num_train:
            raise ValueError(
                f'{self.__class__.__name__}: num_classes={num_classes} but '
                f'text_classifier.class_texts has {num_train} classes; drop '
                '`num_classes` (it is read from the class texts) or fix the '
                'class list.')
        super().__init__(
            num_classes=num_train,
            reg_class_agnostic=reg_class_agnostic,
            **{**self.shared_layers, **kwargs})
        if not self.with_cls:
            raise ValueError(f'{self.__class__.__name__} needs with_cls=True.')
        self.num_train_classes = num_train
        self.text_classifier = classifier
        self.check_vocabulary()
        embed_dim = classifier.embed_dim
        # the projection to the joint space replaces the linear classifier
        self.fc_cls = nn.Linear(self.cls_last_dim, embed_dim, bias=False)
        self.bg_embedding = nn.Parameter(
            torch.randn(embed_dim) * embed_dim**-0.5)

    def check_vocabulary(self, num_classes: Optional[int] = None) -> None:
        """Refuse an eval vocabulary that class-specific regression cannot
        serve.

        Args:
            num_classes (int, optional): Its size; defaults to the
                classifier's current eval classes.
        """
        if num_classes is None:
            num_classes = len(self.text_classifier.inference_classes)
        if not self.reg_class_agnostic and \
                num_classes != self.num_train_classes:
            raise ValueError(
                f'A vocabulary of {num_classes} classes needs class-'
                f'agnostic regression: the head regresses '
                f'{self.num_train_classes} classes. Set '
                'reg_class_agnostic=True in the bbox head.')

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
        bg = self.text_classifier.scale * bg
        return torch.cat([logits, bg[:, None]], dim=1), bbox_pred


@MODELS.register_module()
class TextShared2FCBBoxHead(TextConvFCBBoxHead):
    """:class:`TextConvFCBBoxHead` with two shared FCs (Faster R-CNN's).

    Args:
        **kwargs: :class:`TextConvFCBBoxHead` arguments (``fc_out_channels``
            defaults to 1024).
    """
    shared_layers = dict(num_shared_convs=0, num_shared_fcs=2)


@MODELS.register_module()
class TextShared4Conv1FCBBoxHead(TextConvFCBBoxHead):
    """:class:`TextConvFCBBoxHead` with four shared convs and one FC.

    Args:
        **kwargs: :class:`TextConvFCBBoxHead` arguments (e.g. ``norm_cfg``;
            ``fc_out_channels`` defaults to 1024).
    """
    shared_layers = dict(num_shared_convs=4, num_shared_fcs=1)
