"""iCAR's classifier: cosine logits against text-generated class weights."""
import itertools
import math
import weakref
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_world_size

from icar_mm.registry import MODELS
from ..utils.distributed import all_gather_no_grad, all_gather_with_grad, \
    rank_slice
from .class_text_bank import ClassTextBank, build_class_text_bank


@MODELS.register_module()
class TextCosineClassifier(nn.Module):
    """Cosine classifier whose weights the text encoder generates (A1 + A2).

    ``w_c = normalise(text_encoder(text_c))`` and
    ``logit = <f, w_c> / tau`` for L2-normalised features ``f``. The text
    encoder is not owned here: it is passed to :meth:`forward`, so the same
    instance can serve the image-text branch (pretraining) or belong to a
    downstream head (detection, segmentation, action recognition).

    Training: every step encodes one random template per class, with
    gradient. With ``shard_classes`` each rank encodes only its share of the
    classes and an all-gather that carries gradients assembles the full
    weight matrix. With ``num_negatives`` only the ground-truth classes of
    the global batch plus that many random other classes are encoded and the
    labels are remapped (for 21,841 ImageNet-22K classes).

    Evaluation: the template ensemble (encode, normalise, average, normalise)
    is computed once per class list and cached; the cache key holds the
    text encoder's tensors (weakly) with their versions, so replacing or
    updating any of them (optimizer step, ``load_state_dict``) invalidates
    it.

    Args:
        class_texts (dict | ClassTextBank, optional): The training classes.
            Downstream zero-shot use may leave it None and pass a bank to
            :meth:`forward`.
        tau (float): Temperature; logits are scaled by ``1 / tau``.
            Defaults to 0.05.
        learnable_tau (bool): Learn ``log(1 / tau)``. Defaults to False.
        max_scale (float): Clamp of the learnable scale. Defaults to 100.
        shard_classes (bool): Split class encoding across ranks.
            Defaults to False.
        num_negatives (int, optional): Class subsampling: number of random
            negative classes besides the batch's ground truth. None encodes
            every class. Defaults to None.
        seed (int): Seed of the template / negative sampling, which is a
            function of (seed, step) so that resumed runs repeat it.
            Defaults to 0.
        eval_chunk_size (int): Texts per forward pass when building the
            ensemble. Defaults to 1024.
    """

    def __init__(self,
                 class_texts: Union[ClassTextBank, Dict, None] = None,
                 tau: float = 0.05,
                 learnable_tau: bool = False,
                 max_scale: float = 100.,
                 shard_classes: bool = False,
                 num_negatives: Optional[int] = None,
                 seed: int = 0,
                 eval_chunk_size: int = 1024) -> None:
        super().__init__()
        self.class_texts = build_class_text_bank(class_texts)
        log_scale = torch.tensor(math.log(1. / tau))
        if learnable_tau:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('log_scale', log_scale)
        self.max_scale = max_scale
        self.shard_classes = shard_classes
        self.num_negatives = num_negatives
        self.seed = seed
        self.eval_chunk_size = eval_chunk_size
        # training step counter: saved in checkpoints, drives sampling
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self._cache: Tuple[Optional[tuple], Optional[torch.Tensor]] = (None,
                                                                        None)

    @property
    def scale(self) -> torch.Tensor:
        """``1 / tau`` (clamped at ``max_scale`` when learnable)."""
        return self.log_scale.exp().clamp(max=self.max_scale)

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 +
                                             int(self.step))

    def _select_classes(self, labels: torch.Tensor, num_classes: int,
                        generator: torch.Generator
                        ) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """Ground-truth classes of the global batch + random negatives."""
        if self.num_negatives is None:
            return None, labels
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

    def train_class_embeddings(
            self,
            text_encoder: nn.Module,
            labels: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Class weights for one training step, with gradient.

        Args:
            text_encoder (nn.Module): Maps a list of texts to normalised
                embeddings.
            labels (Tensor, optional): This rank's labels, needed for class
                subsampling.

        Returns:
            tuple: ``(C', D)`` class weights and the (remapped) labels.
        """
        bank = self.class_texts
        generator = self._generator()
        if self.training:
            self.step += 1
        indices, labels = self._select_classes(labels, len(bank), generator)
        if indices is None:
            indices = torch.arange(len(bank))
        # the same draws on every rank, whether or not classes are sharded
        texts = bank.sample_texts(indices.tolist(), generator)
        if self.shard_classes and get_world_size() > 1:
            own = texts[rank_slice(len(texts))]
            local = text_encoder(own) if own else self._no_embeddings(
                text_encoder)
            weights = all_gather_with_grad(local)
        else:
            weights = text_encoder(texts)
        return F.normalize(weights, dim=-1), labels

    @staticmethod
    def _no_embeddings(text_encoder: nn.Module) -> torch.Tensor:
        """``(0, D)`` embeddings (a rank with no class to encode).

        Tied to the graph so that this rank's gather runs its backward (a
        collective) like the others'.
        """
        weight = text_encoder.proj.weight
        return weight.new_zeros(0, weight.shape[0]) + 0 * weight.sum()

    @staticmethod
    def _state_of(text_encoder: nn.Module) -> list:
        """What the ensemble depends on: each tensor and its version."""
        return [(weakref.ref(t), t._version) for t in itertools.chain(
            text_encoder.parameters(), text_encoder.buffers())]

    def _cache_valid(self, key: tuple, text_encoder: nn.Module) -> bool:
        cached_key = self._cache[0]
        if cached_key is None or cached_key[:2] != key:
            return False
        encoder_ref, state = cached_key[2], cached_key[3]
        tensors = list(
            itertools.chain(text_encoder.parameters(),
                            text_encoder.buffers()))
        return encoder_ref() is text_encoder and len(state) == len(
            tensors) and all(ref() is t and version == t._version
                             for (ref, version), t in zip(state, tensors))

    @torch.no_grad()
    def ensemble_class_embeddings(
            self,
            text_encoder: nn.Module,
            class_texts: Optional[ClassTextBank] = None) -> torch.Tensor:
        """Template-ensemble class weights, cached (test time).

        Args:
            text_encoder (nn.Module): The text encoder.
            class_texts (ClassTextBank, optional): Another vocabulary (zero-
                shot); defaults to the training classes.

        Returns:
            Tensor: ``(C, D)`` normalised class weights.
        """
        bank = class_texts if class_texts is not None else self.class_texts
        if bank is None:
            raise ValueError('No class texts: give `class_texts` to the '
                             'classifier or to the call.')
        key = (bank.fingerprint, next(text_encoder.parameters()).device)
        if self._cache_valid(key, text_encoder):
            return self._cache[1]
        was_training = text_encoder.training
        text_encoder.eval()
        share = rank_slice(len(bank)) if get_world_size() > 1 else slice(
            0, len(bank))
        texts = bank.ensemble_texts(range(share.start, share.stop))
        embeds = torch.cat([
            text_encoder(texts[i:i + self.eval_chunk_size])
            for i in range(0, len(texts), self.eval_chunk_size)
        ]) if texts else next(text_encoder.parameters()).new_zeros(
            0, text_encoder.embed_dim)
        embeds = embeds.view(-1, bank.num_templates, embeds.shape[-1])
        weights = F.normalize(F.normalize(embeds, dim=-1).mean(1), dim=-1)
        weights = all_gather_no_grad(weights)
        text_encoder.train(was_training)
        self._cache = (key + (weakref.ref(text_encoder),
                              self._state_of(text_encoder)), weights)
        return weights

    def forward(
        self,
        feats: torch.Tensor,
        text_encoder: nn.Module,
        labels: Optional[torch.Tensor] = None,
        class_texts: Optional[ClassTextBank] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Cosine logits of ``feats`` against the class texts.

        Args:
            feats (Tensor): ``(N, D)`` features (normalised here).
            text_encoder (nn.Module): The shared text encoder.
            labels (Tensor, optional): ``(N,)`` labels (training).
            class_texts (ClassTextBank, optional): A vocabulary to use instead
                of the training classes (evaluation only).

        Returns:
            tuple: ``(N, C)`` logits and the labels, remapped to the encoded
            classes when class subsampling is on.
        """
        if self.training and class_texts is None:
            weights, labels = self.train_class_embeddings(
                text_encoder, labels)
        else:
            weights = self.ensemble_class_embeddings(text_encoder,
                                                     class_texts)
        feats = F.normalize(feats, dim=-1)
        logits = self.scale * feats @ weights.to(feats.dtype).t()
        return logits, labels
