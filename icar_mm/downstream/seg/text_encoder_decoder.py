"""EncoderDecoder whose heads classify pixels against class texts."""
from typing import Dict

import torch.nn as nn
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS as SEG_MODELS

from .text_cosine_seg_head import TextCosineSegHeadMixin


@SEG_MODELS.register_module()
class TextEncoderDecoder(EncoderDecoder):
    """mmseg ``EncoderDecoder`` for text cosine heads (open vocabulary).

    Differences from ``EncoderDecoder``:

    * text cosine auxiliary heads built with ``text_classifier=None`` share
      the decode head's :class:`TextClassifier` (one text encoder, trained
      by both heads' losses, run over the class texts once per step);
    * ``num_classes`` / ``out_channels`` follow the decode head, so they stay
      right (e.g. for ``slide`` inference) after a vocabulary swap
      (:func:`icar_mm.apis.set_vocabulary`, which swaps the shared
      classifier's, so every text cosine head's, at once).

    Args:
        **kwargs: ``EncoderDecoder`` arguments.
    """

    def _init_decode_head(self, decode_head: Dict) -> None:
        self.decode_head = SEG_MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners

    def _init_auxiliary_head(self, auxiliary_head: Dict) -> None:
        super()._init_auxiliary_head(auxiliary_head)
        owner = getattr(self.decode_head, 'text_classifier', None)
        for head in self._auxiliary_heads():
            if (isinstance(head, TextCosineSegHeadMixin)
                    and 'text_classifier' not in head._modules):
                if owner is None:
                    raise ValueError(
                        'An auxiliary head shares the decode head\'s text '
                        'classifier (text_classifier=None), but the decode '
                        f'head {type(self.decode_head).__name__} has none.')
                head.share_text_classifier(owner)

    def _auxiliary_heads(self) -> list:
        if not self.with_auxiliary_head:
            return []
        heads = self.auxiliary_head
        return list(heads) if isinstance(heads, nn.ModuleList) else [heads]

    def loss(self, inputs, data_samples) -> dict:
        """Losses of all heads; the class texts are encoded once per step
        when the heads share the decode head's text classifier."""
        classifier = getattr(self.decode_head, 'text_classifier', None)
        if classifier is None:
            return super().loss(inputs, data_samples)
        with classifier.same_class_embeddings():
            return super().loss(inputs, data_samples)

    @property
    def num_classes(self) -> int:
        """Classes scored at inference (the decode head's vocabulary)."""
        return self.decode_head.num_classes

    @property
    def out_channels(self) -> int:
        """Channels of the predicted ``seg_logits``."""
        return self.decode_head.out_channels
