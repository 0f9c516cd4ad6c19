"""A text encoder with a frozen transformer whose pooled outputs are cached.

Written for the CPU ablation (``configs/ablation/``): with the transformer
body frozen, a text's pooled hidden state (:meth:`TextEncoder.pool`) never
changes, so it is computed once (in eval mode: no dropout) and reused; the
trainable bias-free projection ``P_t`` (shared by the classifier generator
and the contrastive branch, as in iCAR) is applied on every call, with
gradient. This makes a text-tower step almost free, which is what lets 19
trainings fit in an hour of a shared 2-core CPU. It is a deviation from the
paper, where the whole text encoder trains; the ablation's README section
says so.
"""
from typing import Dict, List

import torch

from icar_mm.registry import MODELS
from .text_encoder import TextEncoder


@MODELS.register_module()
class CachedFrozenTextEncoder(TextEncoder):
    """:class:`TextEncoder` with a frozen body and a cache of pooled states.

    Every way of encoding (texts, token ids, a padded batch) goes through
    :meth:`pool`, which looks each text up by its token ids (after
    truncation: what the body sees) and runs the body only on the ones not
    seen before.

    Args:
        chunk_size (int): Texts per forward pass of the body when filling
            the cache. Defaults to 256.
        **kwargs: :class:`TextEncoder` arguments; ``frozen`` is forced to
            True (``frozen_layers`` and ``freeze_embeddings`` are ignored).
    """

    def __init__(self, chunk_size: int = 256, **kwargs) -> None:
        kwargs.update(frozen=True, frozen_layers=0, freeze_embeddings=False)
        if kwargs.get('fallback') is not None:
            raise ValueError('CachedFrozenTextEncoder: no silent random '
                             'fallback; give `pretrained` or `config`.')
        super().__init__(**kwargs)
        if any(p.requires_grad for p in self.model.parameters()):
            raise RuntimeError('the transformer body must be frozen')
        self.chunk_size = int(chunk_size)
        self._pooled: Dict[bytes, torch.Tensor] = {}

    def pool(self, tokens: Dict[str, torch.Tensor]) -> torch.Tensor:
        """:meth:`TextEncoder.pool`, computed once per distinct text.

        Args:
            tokens (dict): ``input_ids`` and ``attention_mask``.

        Returns:
            Tensor: ``(N, hidden)`` pooled states (without gradient).
        """
        ids, mask = tokens['input_ids'], tokens['attention_mask']
        keys = [
            row[row_mask.bool()].cpu().numpy().tobytes()
            for row, row_mask in zip(ids, mask)
        ]
        first = {}
        for i, key in enumerate(keys):
            if key not in self._pooled:
                first.setdefault(key, i)
        if first:
            self._fill(ids, mask, list(first.values()), list(first))
        return torch.stack([self._pooled[k] for k in keys]).to(self.device)

    @torch.no_grad()
    def _fill(self, ids: torch.Tensor, mask: torch.Tensor, rows: List[int],
              keys: List[bytes]) -> None:
        """Pool ``rows`` of the batch in eval mode; cache them by ``keys``."""
        was_training = self.model.training
        self.model.eval()
        for i in range(0, len(rows), self.chunk_size):
            chunk = torch.tensor(rows[i:i + self.chunk_size],
                                 device=ids.device)
            pooled = super().pool(
                dict(input_ids=ids[chunk], attention_mask=mask[chunk]))
            for key, vec in zip(keys[i:i + self.chunk_size], pooled):
                self._pooled[key] = vec.detach().clone()
        self.model.train(was_training)

    @property
    def cache_size(self) -> int:
        """Number of distinct texts cached."""
        return len(self._pooled)
