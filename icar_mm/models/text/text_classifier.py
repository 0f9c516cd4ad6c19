"""A text-generated cosine classifier that owns its text encoder."""
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import DefaultScope

from icar_mm.registry import MODELS
from .class_text_bank import ClassTextBank, build_class_text_bank
from .text_cosine_classifier import TextCosineClassifier


@MODELS.register_module()
class TextClassifier(BaseModule):
    """Text encoder + text cosine classifier, for downstream heads.

    The pretraining model shares one text encoder between the contrastive
    loss and :class:`TextCosineClassifier`. A downstream head (detection RoI
    head, segmentation decode head, video recognizer head) has no image-text
    branch, so it owns the text encoder here: it projects its features to
    the joint space itself and calls this module for the logits.

    Training encodes one random template per class per step with gradient,
    so the task loss fine-tunes the text encoder, unless
    ``freeze_text_encoder``: then the encoder stays in eval mode, gets no
    gradient and the cached template ensemble is used in training too.
    Evaluation uses the cached template ensemble of the current vocabulary;
    :meth:`set_vocabulary` swaps it (open-vocabulary / zero-shot transfer)
    without retraining.

    Args:
        text_encoder (dict): Config of :class:`TextEncoder`; ``embed_dim``
            is set from this module's. Load the pretrained iCAR text tower
            with ``init_cfg=dict(type='Pretrained', checkpoint=CKPT,
            prefix='text_encoder.')``.
        class_texts (dict | ClassTextBank): The training classes (names,
            descriptions, templates).
        embed_dim (int): Joint embedding dimension. Defaults to 256.
        tau (float): Temperature of the cosine logits. Defaults to 0.05.
        learnable_tau (bool): Learn the temperature. Defaults to False.
        freeze_text_encoder (bool): Keep the text encoder fixed.
            Defaults to False.
        num_negatives (int, optional): Class subsampling in training (see
            :class:`TextCosineClassifier`). Defaults to None.
        seed (int): Seed of the template sampling. Defaults to 0.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 text_encoder: Dict,
                 class_texts: Union[Dict, ClassTextBank],
                 embed_dim: int = 256,
                 tau: float = 0.05,
                 learnable_tau: bool = False,
                 freeze_text_encoder: bool = False,
                 num_negatives: Optional[int] = None,
                 seed: int = 0,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        text_encoder = dict(text_encoder, embed_dim=embed_dim)
        text_encoder.setdefault('type', 'TextEncoder')
        # also when a host head (mmdet, mmseg, mmaction) builds this
        with DefaultScope.overwrite_default_scope(MODELS.scope):
            self.text_encoder = MODELS.build(text_encoder)
        self.classifier = TextCosineClassifier(
            class_texts=class_texts,
            tau=tau,
            learnable_tau=learnable_tau,
            num_negatives=num_negatives,
            seed=seed)
        if self.classifier.class_texts is None:
            raise ValueError('TextClassifier needs `class_texts` (the '
                             'training classes).')
        self.embed_dim = embed_dim
        self.freeze_text_encoder = freeze_text_encoder
        if freeze_text_encoder:
            self.text_encoder.requires_grad_(False)
        self.vocabulary: Optional[ClassTextBank] = None
        # training weights kept for reuse inside `same_class_embeddings`
        self._step_memo: Optional[list] = None

    @property
    def num_classes(self) -> int:
        """Number of classes scored now (vocabulary or training classes)."""
        return len(self.vocabulary or self.classifier.class_texts)

    @property
    def class_names(self) -> list:
        """Names of the classes scored now."""
        return (self.vocabulary or self.classifier.class_texts).names

    def set_vocabulary(
            self, vocabulary: Union[ClassTextBank, Dict, None]) -> None:
        """Score another class list from now on, without retraining.

        Args:
            vocabulary (ClassTextBank | dict | None): A bank or its config;
                None returns to the training classes.
        """
        self.vocabulary = build_class_text_bank(vocabulary)

    def train(self, mode: bool = True) -> 'TextClassifier':
        super().train(mode)
        if self.freeze_text_encoder:
            self.text_encoder.eval()
        return self

    @contextmanager
    def same_class_embeddings(self) -> Iterator[None]:
        """Encode the class texts once for every call inside the block.

        For a model whose heads share this classifier within one training
        step (e.g. a segmentor's decode and auxiliary heads): the first
        training call encodes the classes (one template each, with
        gradient), later calls reuse those weights, and both losses
        back-propagate through the one encoding. Not for class subsampling,
        whose classes depend on each call's labels.
        """
        self._step_memo = []
        try:
            yield
        finally:
            self._step_memo = None

    def class_embeddings(self,
                         labels: Optional[torch.Tensor] = None
                         ) -> tuple:
        """Normalised class weights and the (remapped) labels.

        Args:
            labels (Tensor, optional): Labels of this step (needed for class
                subsampling).

        Returns:
            tuple: ``(C, D)`` class weights and the labels.
        """
        if (self.training and self.vocabulary is None
                and not self.freeze_text_encoder):
            memo = self._step_memo
            if memo and self.classifier.num_negatives is None:
                return memo[0], labels
            weights, labels = self.classifier.train_class_embeddings(
                self.text_encoder, labels)
            if memo is not None and self.classifier.num_negatives is None:
                memo.append(weights)
            return weights, labels
        return self.classifier.ensemble_class_embeddings(
            self.text_encoder, self.vocabulary), labels

    def forward(self,
                feats: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> tuple:
        """Cosine logits of ``feats`` against the class texts.

        Args:
            feats (Tensor): ``(..., D)`` features in the joint space.
            labels (Tensor, optional): Labels (class subsampling).

        Returns:
            tuple: ``(..., C)`` logits and the (remapped) labels.
        """
        weights, labels = self.class_embeddings(labels)
        logits = self.classifier.scale * F.normalize(
            feats, dim=-1) @ weights.to(feats.dtype).t()
        return logits, labels


def build_text_classifier(
        cfg: Union[Dict, TextClassifier]) -> TextClassifier:
    """Build a :class:`TextClassifier` from any host's registry scope.

    icar_mm's modules live in mmpretrain's registries; a head registered in
    mmdet, mmseg or mmaction2 builds while its host's scope is the default,
    where a plain ``MODELS.build`` would not find them.

    Args:
        cfg (dict | TextClassifier): The config (``type`` defaults to
            ``'TextClassifier'``) or a built classifier.

    Returns:
        TextClassifier: The classifier.
    """
    if isinstance(cfg, TextClassifier):
        return cfg
    cfg = dict(cfg)
    cfg.setdefault('type', 'TextClassifier')
    with DefaultScope.overwrite_default_scope(MODELS.scope):
        return MODELS.build(cfg)
