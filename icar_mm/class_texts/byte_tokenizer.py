"""A tokenizer that needs no vocabulary file, for randomly initialised
models."""
from typing import List


class ByteTokenizer:
    """UTF-8 bytes as tokens, framed by ``[CLS]``/``[SEP]``, padded with 0.

    :class:`~icar_mm.class_texts.tokens.TextTokenizer` uses it for
    ``tokenizer='byte'``, so a tiny random text model can run where no
    tokenizer files are available.
    """
    pad_id, cls_id, sep_id, offset = 0, 1, 2, 3
    vocab_size = 256 + 3

    def encode(self, text: str, max_length: int) -> List[int]:
        """Token ids of one text, truncated to ``max_length`` with the frame."""
        ids = [b + self.offset for b in text.encode('utf-8')]
        return [self.cls_id] + ids[:max(max_length - 2, 0)] + [self.sep_id]

    def decode(self, ids: List[int]) -> str:
        """The text of token ids (the frame and padding dropped)."""
        return bytes(int(i) - self.offset for i in ids
                     if int(i) >= self.offset).decode('utf-8', 'replace')
