"""A text encoder with a frozen transformer whose pooled outputs are cached.

For the CPU ablation only: with the transformer body frozen, a text's mean-
pooled hidden state never changes, so it is computed once (in eval mode:
no dropout) and reused; the trainable bias-free projection ``P_t`` (shared
by the classifier generator and the contrastive branch, as in iCAR) is
applied on every call, with gradient. This makes a text-tower step almost
free, which is what lets 19 trainings fit in an hour of a shared 2-core
CPU. It is a deviation from the paper, where the whole text encoder
trains; the ablation's README section says so.
"""
from typing import Dict, List, Sequence, Union

import torch
import torch.nn.functional as F

from icar_mm.models.text.text_encoder import TextEncoder
from icar_mm.registry import MODELS


@MODELS.register_module()
class CachedFrozenTextEncoder(TextEncoder):
    """:class:`TextEncoder` with a frozen body and a cache of pooled states.

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
        self._pooled: Dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def _fill(self, texts: List[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts
                                     if t not in self._pooled))
        if not missing:
            return
        was_training = self.model.training
        self.model.eval()
        for i in range(0, len(missing), self.chunk_size):
            chunk = missing[i:i + self.chunk_size]
            tokens = self.tokenize(chunk)
            mask = tokens['attention_mask']
            hidden = self.model(input_ids=tokens['input_ids'],
                                attention_mask=mask)[0]
            mask = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            for text, vec in zip(chunk, pooled):
                self._pooled[text] = vec.detach().clone()
        self.model.train(was_training)

    def forward(self,
                texts: Union[Sequence[str], Dict[str, torch.Tensor]],
                normalize: bool = True) -> torch.Tensor:
        """Encode texts: cached pooled body output, then ``P_t``.

        Args:
            texts (Sequence[str]): Raw texts (token dicts bypass the cache).
            normalize (bool): L2-normalise the embeddings.

        Returns:
            Tensor: ``(N, embed_dim)`` embeddings.
        """
        if isinstance(texts, dict):
            return super().forward(texts, normalize)
        texts = list(texts)
        self._fill(texts)
        pooled = torch.stack([self._pooled[t] for t in texts]).to(
            self.device)
        embeds = self.proj(pooled)
        return F.normalize(embeds, dim=-1) if normalize else embeds

    @property
    def cache_size(self) -> int:
        """Number of distinct texts cached."""
        return len(self._pooled)
