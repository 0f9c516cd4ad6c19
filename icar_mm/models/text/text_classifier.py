"""iCAR's classifier: cosine logits against text-generated class weights.

:class:`TextClassifier` is the one place that decides which classes are
scored: the training classes in train mode, the current vocabulary in eval
mode (:meth:`TextClassifier.set_vocabulary` swaps it). The pretraining model
and the mmdet / mmseg / mmaction2 heads all use it; a host head reads its
``num_classes`` from it through :class:`ScoredClassCount`.
"""
import itertools
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmengine.model import BaseModule

from icar_mm.class_texts import (ClassTextBank, build_class_text_bank,
                                 check_unique_classes)
from icar_mm.class_texts.tokens import ClassTextTokens
from icar_mm.registry import MODELS
from ..utils.distributed import (all_gather_no_grad, all_gather_with_grad,
                                 rank_slice)
from ..utils.logit_scale import register_log_scale

#: template ensembles and class-text token caches kept per classifier
#: (vocabularies scored in turn)
_CACHE_SIZE = 8


@MODELS.register_module(name=['TextClassifier', 'TextCosineClassifier'])
class TextClassifier(BaseModule):
    """Cosine classifier whose class weights the text encoder generates.

    ``w_c = normalise(text_encoder(text_c))`` and ``logit = <f, w_c> / tau``
    for L2-normalised features ``f`` (iCAR's A1 + A2).

    Which classes: in train mode the training classes (``class_texts``),
    with one random template per class per step, encoded with gradient, so
    the task loss trains the text encoder (unless ``detach_class_weights``;
    or ``freeze_text_encoder``: then the cached ensemble below serves
    training too). In eval mode the
    current vocabulary (``vocabulary`` / :meth:`set_vocabulary`; the
    training classes when None), as a template ensemble (encode every
    template, normalise, average, normalise), cached per class list; the
    cache follows the text encoder's tensors and their versions, so an
    optimizer step or ``load_state_dict`` invalidates it.

    Class texts are tokenized once (``cache_tokens``): the token ids of
    every (class, template) prompt are kept per class list and tokenizer
    (:class:`ClassTextTokens`), so a training step and a test-time ensemble
    tokenize nothing; the encoder groups them by length.

    Which text encoder: a config in ``text_encoder`` builds one this module
    owns (downstream heads). Without it, the owner hands over its shared
    encoder with :meth:`share_text_encoder` (the pretraining model, whose
    contrastive branch trains the same encoder).

    Many classes: with ``shard_classes`` each rank encodes only its share of
    the classes and an all-gather that carries gradients assembles the full
    weight matrix. With ``num_negatives`` only the ground-truth classes of
    the global batch plus that many random other classes are encoded and
    the labels are remapped (21,841 ImageNet-22K classes); an owner that
    scores before labels exist (RoIs, pixels) builds it with
    ``allow_subsampling=False``.

    Args:
        class_texts (dict | ClassTextBank, optional): The training classes.
            None: a classifier that only scores vocabularies (zero-shot
            scores of a model without a text head).
        text_encoder (dict, optional): Config of a :class:`TextEncoder` to
            own. Load a pretrained iCAR text tower with ``init_cfg=dict(
            type='Pretrained', checkpoint=CKPT, prefix='text_encoder.')``.
        embed_dim (int, optional): Joint embedding dimension of an owned
            encoder (its ``embed_dim``). Defaults to the encoder's.
        tau (float): Temperature; logits are scaled by ``1 / tau``.
            Defaults to 0.05.
        learnable_tau (bool): Learn ``log(1 / tau)``. Defaults to False.
        max_scale (float): Clamp of the learnable scale. Defaults to 100.
        vocabulary (dict | ClassTextBank, optional): The classes scored in
            eval mode. Defaults to None (the training classes).
        freeze_text_encoder (bool): Keep an owned encoder fixed (eval mode,
            no gradient) and use the cached ensemble in training too.
            Defaults to False.
        detach_class_weights (bool): Generate the training class weights
            as usual (one template per class per step, the encoder in
            train mode) but without gradient: the classification loss
            trains the image side only, not the text encoder, which a
            shared encoder's other losses (the contrastive branch) still
            train. The ablation of iCAR's meta-network (A2) that keeps the
            text-generated weights. Defaults to False.
        shard_classes (bool): Split class encoding across ranks.
            Defaults to False.
        num_negatives (int, optional): Class subsampling: random negative
            classes besides the batch's ground truth. None encodes every
            class. Defaults to None.
        allow_subsampling (bool): Whether ``num_negatives`` may be set.
            Defaults to True.
        seed (int): Seed of the template / negative sampling, a function of
            (seed, step) so that resumed runs repeat it. Defaults to 0.
        eval_chunk_size (int): Texts per call of the encoder when building the
            ensemble. Defaults to 1024.
        cache_tokens (bool): Tokenize the class texts once and reuse the ids
            (False: tokenize the step's texts every step, icar_mm 0.1's
            path). Defaults to True.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 class_texts: Union[ClassTextBank, Dict, None] = None,
                 text_encoder: Optional[Dict] = None,
                 embed_dim: Optional[int] = None,
                 tau: float = 0.05,
                 learnable_tau: bool = False,
                 max_scale: float = 100.,
                 vocabulary: Union[ClassTextBank, Dict, None] = None,
                 freeze_text_encoder: bool = False,
                 detach_class_weights: bool = False,
                 shard_classes: bool = False,
                 num_negatives: Optional[int] = None,
                 allow_subsampling: bool = True,
                 seed: int = 0,
                 eval_chunk_size: int = 1024,
                 cache_tokens: bool = True,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_negatives is not None and not allow_subsampling:
            raise ValueError(
                f'Class subsampling (num_negatives={num_negatives}) is off '
                'for this text classifier (allow_subsampling=False): its '
                'owner scores every class, e.g. RoIs or pixels before their '
                'labels are known. Remove num_negatives; '
                'freeze_text_encoder=True saves the memory instead.')
        self.class_texts = build_class_text_bank(class_texts)
        if self.class_texts is not None:  # two labels, one class text
            check_unique_classes(self.class_texts.classes,
                                 self.class_texts.origin)
        self.vocabulary: Optional[ClassTextBank] = None
        self.set_vocabulary(vocabulary)
        self.text_encoder = self._build_text_encoder(text_encoder, embed_dim)
        if freeze_text_encoder:
            if self.text_encoder is None:
                raise ValueError(
                    'freeze_text_encoder needs an owned text encoder '
                    '(`text_encoder`); freeze a shared one with its own '
                    '`frozen=True`.')
            self.text_encoder.requires_grad_(False)
        self.freeze_text_encoder = freeze_text_encoder
        self.detach_class_weights = detach_class_weights
        register_log_scale(self, 1. / tau, learnable_tau)
        self.max_scale = max_scale
        self.shard_classes = shard_classes
        self.num_negatives = num_negatives
        self.seed = seed
        self.eval_chunk_size = eval_chunk_size
        self.cache_tokens = cache_tokens
        # training step counter: saved in checkpoints, drives sampling
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self._ensembles: 'OrderedDict[str, tuple]' = OrderedDict()
        self._tokens: 'OrderedDict[tuple, ClassTextTokens]' = OrderedDict()
        # training weights reused inside `same_class_embeddings`
        self._step_memo: Optional[list] = None

    @staticmethod
    def _build_text_encoder(cfg: Optional[Dict],
                            embed_dim: Optional[int]) -> Optional[nn.Module]:
        if cfg is None:
            if embed_dim is not None:
                raise ValueError('embed_dim is the dimension of an owned '
                                 'text encoder; give `text_encoder` too.')
            return None
        cfg = dict(cfg)
        cfg.setdefault('type', 'TextEncoder')
        if embed_dim is not None:
            if cfg.setdefault('embed_dim', embed_dim) != embed_dim:
                raise ValueError(
                    f'text_encoder.embed_dim={cfg["embed_dim"]} but '
                    f'embed_dim={embed_dim}: give one of them.')
        return MODELS.build(cfg)

    def share_text_encoder(self, text_encoder: nn.Module) -> None:
        """Use the owner's text encoder, without registering it here.

        Its weights are saved once, under the owner.

        Args:
            text_encoder (nn.Module): The shared encoder.
        """
        if 'text_encoder' in self._modules:
            raise ValueError('This text classifier owns its text encoder; '
                             'build it without `text_encoder` to share one.')
        object.__setattr__(self, 'text_encoder', text_encoder)

    @property
    def embed_dim(self) -> int:
        """Dimension of the class embeddings."""
        return self.text_encoder.embed_dim

    @property
    def scale(self) -> torch.Tensor:
        """``1 / tau`` (clamped at ``max_scale`` when learnable)."""
        return self.log_scale.exp().clamp(max=self.max_scale)

    # ------------------------------------------------------------ classes
    def set_vocabulary(
            self, vocabulary: Union[ClassTextBank, Dict, None]) -> None:
        """Score another class list in eval mode, without retraining.

        Args:
            vocabulary (ClassTextBank | dict | None): A bank or its config;
                None returns to the training classes.
        """
        self.vocabulary = build_class_text_bank(vocabulary)

    @property
    def num_training_classes(self) -> int:
        """Number of training classes (an error when there are none)."""
        if self.class_texts is None:
            raise ValueError('This text classifier has no training classes: '
                             'give it `class_texts` (the classes of the '
                             'labels, in label order).')
        return len(self.class_texts)

    @property
    def inference_classes(self) -> Optional[ClassTextBank]:
        """The classes scored in eval mode (vocabulary, else training)."""
        return self.vocabulary if self.vocabulary is not None else \
            self.class_texts

    @property
    def scored_classes(self) -> Optional[ClassTextBank]:
        """The classes scored now: training classes in train mode."""
        return self.class_texts if self.training else self.inference_classes

    @property
    def num_classes(self) -> int:
        """Number of classes scored now (0 when there are none)."""
        bank = self.scored_classes
        return len(bank) if bank is not None else 0

    @property
    def class_names(self) -> List[str]:
        """Names of the classes scored now."""
        bank = self.scored_classes
        return bank.names if bank is not None else []

    def train(self, mode: bool = True) -> 'TextClassifier':
        super().train(mode)
        if self.freeze_text_encoder:
            self.text_encoder.eval()
        return self

    # ---------------------------------------------------------- training
    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 +
                                             int(self.step))

    def _select_classes(self, labels: Optional[torch.Tensor],
                        num_classes: int, generator: torch.Generator
                        ) -> Tuple[Optional[torch.Tensor],
                                   Optional[torch.Tensor]]:
        """Ground-truth classes of the global batch + random negatives."""
        if self.num_negatives is None:
            return None, labels
        if labels is None:
            raise ValueError('Class subsampling (num_negatives) needs the '
                             'labels of the step.')
        global_labels = all_gather_no_grad(labels)
        positives = torch.unique(global_labels.cpu())
        is_positive = torch.zeros(num_classes, dtype=torch.bool)
        is_positive[positives] = True
        others = (~is_positive).nonzero().flatten()
        k = min(self.num_negatives, others.numel())
        negatives = others[torch.randperm(others.numel(),
                                          generator=generator)[:k]]
        selected = torch.cat([positives, negatives.sort().values])
        remap = torch.full((num_classes, ), -1, dtype=torch.long)
        remap[selected] = torch.arange(selected.numel())
        return selected, remap.to(labels.device)[labels]

    def _sampled_embeddings(
        self, labels: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Class weights of one training step, with gradient."""
        num_classes, bank = self.num_training_classes, self.class_texts
        generator = self._generator()
        self.step += 1
        indices, labels = self._select_classes(labels, num_classes,
                                               generator)
        classes = indices.tolist() if indices is not None else list(
            range(num_classes))
        # the same draws on every rank, whether or not classes are sharded
        templates = bank.sample_templates(len(classes), generator)
        if self.shard_classes and get_world_size() > 1:
            share = rank_slice(len(classes))
            classes, templates = classes[share], templates[share]
            local = self._encode(bank, classes, templates) if classes else \
                self._no_embeddings()
            weights = all_gather_with_grad(local)
        else:
            weights = self._encode(bank, classes, templates)
        return F.normalize(weights, dim=-1), labels

    def class_text_tokens(self, bank: ClassTextBank) -> ClassTextTokens:
        """The token cache of ``bank`` under the encoder's tokenizer.

        A new class list, template set or tokenizer gets its own cache (the
        key holds both fingerprints), never another's ids.
        """
        tokenizer = self.text_encoder.tokenizer
        key = (bank.fingerprint, tokenizer.fingerprint)
        cache = self._tokens.get(key)
        if cache is None:
            cache = self._tokens[key] = ClassTextTokens(bank, tokenizer)
            while len(self._tokens) > _CACHE_SIZE:
                self._tokens.popitem(last=False)
        self._tokens.move_to_end(key)
        return cache

    def _encode(self, bank: ClassTextBank, classes: List[int],
                templates: List[int]) -> torch.Tensor:
        """Normalised embeddings of prompts ``(classes[i], templates[i])``."""
        if self.cache_tokens:
            tokens = self.class_text_tokens(bank)
            if self.num_negatives is not None:
                # subsampling meets new classes every step: tokenize them
                # all at once, the first time, rather than a few per step
                tokens.prepare()
            return self.text_encoder.encode_ids(
                tokens.pairs(classes, templates))
        return self.text_encoder(
            [bank.prompt(c, t) for c, t in zip(classes, templates)])

    def _no_embeddings(self) -> torch.Tensor:
        """``(0, D)`` embeddings (a rank with no class to encode).

        Tied to the graph so that this rank's gather runs its backward (a
        collective) like the others'.
        """
        weight = self.text_encoder.proj.weight
        return weight.new_zeros(0, weight.shape[0]) + 0 * weight.sum()

    @contextmanager
    def same_class_embeddings(self) -> Iterator[None]:
        """Encode the class texts once for every call inside the block.

        For a model whose heads share this classifier within one training
        step (a segmentor's decode and auxiliary heads): the first training
        call encodes the classes (one template each, with gradient), later
        calls reuse those weights, and every loss back-propagates through
        the one encoding. Not for class subsampling, whose classes depend on
        each call's labels.
        """
        self._step_memo = []
        try:
            yield
        finally:
            self._step_memo = None

    # ---------------------------------------------------------- ensemble
    def _encoder_state(self) -> list:
        """What an ensemble depends on: each encoder tensor and version."""
        return [(weakref.ref(t), t._version) for t in itertools.chain(
            self.text_encoder.parameters(), self.text_encoder.buffers())]

    @staticmethod
    def _state_matches(state: list, now: list) -> bool:
        return len(state) == len(now) and all(
            ref() is now_ref() and version == now_version
            for (ref, version), (now_ref, now_version) in zip(state, now))

    @torch.no_grad()
    def ensemble(self,
                 class_texts: Union[ClassTextBank, Dict, None] = None
                 ) -> torch.Tensor:
        """Template-ensemble class weights, cached (test time).

        Args:
            class_texts (ClassTextBank | dict, optional): The classes;
                defaults to :attr:`inference_classes`.

        Returns:
            Tensor: ``(C, D)`` normalised class weights.
        """
        bank = build_class_text_bank(class_texts)
        bank = bank if bank is not None else self.inference_classes
        if bank is None:
            raise ValueError('No classes to score: give the classifier '
                             '`class_texts` or a vocabulary '
                             '(set_vocabulary).')
        encoder = self.text_encoder
        device = next(encoder.parameters()).device
        key = f'{bank.fingerprint}@{device}'
        state = self._encoder_state()
        cached = self._ensembles.get(key)
        if cached is not None and cached[0]() is encoder and \
                self._state_matches(cached[1], state):
            self._ensembles.move_to_end(key)
            return cached[2]
        was_training = encoder.training
        encoder.eval()
        share = rank_slice(len(bank)) if get_world_size() > 1 else slice(
            0, len(bank))
        own = range(share.start, share.stop)
        texts = self.class_text_tokens(bank).ensemble(own) if \
            self.cache_tokens else bank.ensemble_texts(own)
        embeds = torch.cat([
            encoder(texts[i:i + self.eval_chunk_size])
            for i in range(0, len(texts), self.eval_chunk_size)
        ]) if texts else next(encoder.parameters()).new_zeros(
            0, encoder.embed_dim)
        embeds = embeds.view(-1, bank.num_templates, embeds.shape[-1])
        weights = F.normalize(F.normalize(embeds, dim=-1).mean(1), dim=-1)
        weights = all_gather_no_grad(weights)
        encoder.train(was_training)
        self._ensembles[key] = (weakref.ref(encoder), state, weights)
        while len(self._ensembles) > _CACHE_SIZE:
            self._ensembles.popitem(last=False)
        return weights

    # ----------------------------------------------------------- scoring
    def class_embeddings(
        self,
        labels: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Normalised weights of the classes scored now, and the labels.

        Args:
            labels (Tensor, optional): Labels of this training step (class
                subsampling remaps them).

        Returns:
            tuple: ``(C, D)`` class weights and the (remapped) labels.
        """
        if not self.training or self.freeze_text_encoder:
            return self.ensemble(self.scored_classes), labels
        memo = self._step_memo
        reuse = memo is not None and self.num_negatives is None
        if reuse and memo:
            return memo[0], labels
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.detach_class_weights):
            weights, labels = self._sampled_embeddings(labels)
        if reuse:
            memo.append(weights)
        return weights, labels

    def forward(
        self,
        feats: torch.Tensor,
        labels: Optional[torch.Tensor] = None,
        class_texts: Union[ClassTextBank, Dict, None] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Cosine logits of ``feats`` against the classes scored now.

        Args:
            feats (Tensor): ``(..., D)`` features in the joint space
                (normalised here).
            labels (Tensor, optional): Labels (class subsampling).
            class_texts (ClassTextBank | dict, optional): Score these
                classes' ensemble instead, in any mode (evaluation of
                several vocabularies on features computed once).

        Returns:
            tuple: ``(..., C)`` logits and the labels, remapped to the
            encoded classes when class subsampling is on.
        """
        if class_texts is not None:
            weights = self.ensemble(class_texts)
        else:
            weights, labels = self.class_embeddings(labels)
        logits = self.scale * F.normalize(
            feats, dim=-1) @ weights.to(feats.dtype).t()
        return logits, labels

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        # icar_mm 0.1 kept these buffers in a `classifier.` submodule
        for name in ('log_scale', 'step'):
            old = f'{prefix}classifier.{name}'
            if old in state_dict and prefix + name not in state_dict:
                state_dict[prefix + name] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        bank = self.class_texts
        return (f'classes={len(bank) if bank is not None else 0}, '
                f'vocabulary={self.vocabulary!r}, '
                f'owns_text_encoder={"text_encoder" in self._modules}')


class ScoredClassCount:
    """``num_classes`` (or ``out_channels``) of a host head: the classes its
    ``text_classifier`` scores now.

    A class attribute of an mmdet / mmseg / mmaction2 head whose classifier
    is a :class:`TextClassifier`, so the host's own uses of ``num_classes``
    (background index, NMS, logits channels) follow train/eval mode and
    vocabulary swaps. What the host's ``__init__`` assigns is kept until the
    head has its classifier.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f'_{name}_before_text_classifier'

    def __get__(self, head, owner=None):
        if head is None:
            return self
        classifier = head.__dict__.get('_modules', {}).get(
            'text_classifier', head.__dict__.get('text_classifier'))
        if classifier is None:
            return head.__dict__.get(self.slot)
        return classifier.num_classes

    def __set__(self, head, value: int) -> None:
        head.__dict__[self.slot] = value


def build_text_classifier(cfg: Union[Dict, TextClassifier],
                          **defaults) -> TextClassifier:
    """A :class:`TextClassifier` from its config, from any registry scope.

    The config builds in icar_mm's scope (``_scope_='icar_mm'``), so a host
    head (mmdet, mmseg, mmaction2) builds it and the text encoder inside.

    Args:
        cfg (dict | TextClassifier): The config (``type`` defaults to
            ``'TextClassifier'``) or a built classifier.
        **defaults: Values for keys the config does not set (e.g. a host's
            ``tau``, ``allow_subsampling=False``).

    Returns:
        TextClassifier: The classifier.
    """
    if isinstance(cfg, TextClassifier):
        return cfg
    cfg = dict(cfg)
    for key, value in defaults.items():
        cfg.setdefault(key, value)
    cfg.setdefault('type', 'TextClassifier')
    cfg.setdefault('_scope_', MODELS.scope)
    return MODELS.build(cfg)
