"""A tokenizer that needs no vocabulary file, for randomly initialised models."""
from typing import Dict, List, Sequence

import torch


class ByteTokenizer:
    """UTF-8 bytes as tokens, framed by ``[CLS]``/``[SEP]``, padded with 0.

    It follows the call convention of Hugging Face tokenizers used by
    :class:`TextEncoder` (``padding``, ``truncation``, ``max_length``,
    ``return_tensors='pt'``), so a tiny random text model can run where no
    tokenizer files are available.
    """
    pad_id, cls_id, sep_id, offset = 0, 1, 2, 3
    vocab_size = 256 + 3

    def encode(self, text: str, max_length: int) -> List[int]:
        """Token ids of one text, truncated to ``max_length`` with the frame."""
        ids = [b + self.offset for b in text.encode('utf-8')]
        return [self.cls_id] + ids[:max(max_length - 2, 0)] + [self.sep_id]

    def __call__(self,
                 texts: Sequence[str],
                 padding: bool = True,
                 truncation: bool = True,
                 max_length: int = 77,
                 return_tensors: str = 'pt') -> Dict[str, torch.Tensor]:
        ids = [self.encode(t, max_length) for t in texts]
        width = max(len(i) for i in ids)
        input_ids = torch.full((len(ids), width), self.pad_id)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
        return dict(input_ids=input_ids, attention_mask=mask)
