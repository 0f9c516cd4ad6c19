"""How a text becomes token ids, once, and how ids become padded batches.

* :class:`TextTokenizer`: the one definition of tokenization, shared by the
  text encoder (class texts, captions given as strings) and the data
  pipeline (captions tokenized in the dataloader workers): a Hugging Face
  tokenizer, or the built-in byte tokenizer, truncating to ``max_length``
  with the model's special tokens.
* :class:`ClassTextTokens`: the token ids of every (class, template) prompt
  of a :class:`ClassTextBank`, tokenized once per class when first needed
  and kept compactly (one flat array per class, ``uint16`` when the
  vocabulary allows), so a training step tokenizes nothing.
* :func:`length_buckets` and :func:`pad_ids`: texts grouped by length and
  padded only to their group's longest, so the text model processes few
  padding tokens.
"""
import hashlib
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from icar_mm.utils.pretrained import resolve_pretrained
from .byte_tokenizer import ByteTokenizer


class TextTokenizer:
    """Texts -> token ids, truncated to ``max_length``, special tokens on.

    Args:
        tokenizer (str): A local directory, a hub id, ``'package:NAME'``
            (a model shipped in a Python package) or ``'byte'`` (UTF-8
            bytes; needs no files).
        max_length (int): Tokens per text after truncation.
            Defaults to 77.

    Attributes:
        calls (int): How many times texts were tokenized (a training step
            with cached class texts and worker-tokenized captions makes
            none).
    """

    def __init__(self, tokenizer: str, max_length: int = 77) -> None:
        self.max_length = int(max_length)
        self.name = tokenizer
        if tokenizer == 'byte':
            self._tokenizer = ByteTokenizer()
            self.vocab_size = ByteTokenizer.vocab_size
            self.pad_id = ByteTokenizer.pad_id
            vocab_digest = 'byte'
        else:
            from transformers import AutoTokenizer
            self._tokenizer = AutoTokenizer.from_pretrained(
                osp.expanduser(resolve_pretrained(tokenizer)))
            self.vocab_size = len(self._tokenizer)
            self.pad_id = self._tokenizer.pad_token_id or 0
            vocab_digest = hashlib.sha1(repr(sorted(
                self._tokenizer.get_vocab().items())).encode()).hexdigest()
        self.fingerprint = (f'{type(self._tokenizer).__name__}|'
                            f'{self.vocab_size}|{self.max_length}|'
                            f'{vocab_digest[:16]}')
        self.calls = 0

    @property
    def backend(self):
        """The underlying tokenizer (Hugging Face or byte)."""
        return self._tokenizer

    def __call__(self, texts: Sequence[str]) -> List[np.ndarray]:
        """Token ids of each text (``int64`` arrays of their own length)."""
        texts = list(texts)
        self.calls += 1
        if not texts:
            return []
        if isinstance(self._tokenizer, ByteTokenizer):
            ids = [self._tokenizer.encode(t, self.max_length) for t in texts]
        else:
            ids = self._tokenizer(
                texts,
                truncation=True,
                max_length=self.max_length,
                return_attention_mask=False,
                return_token_type_ids=False)['input_ids']
        return [np.asarray(i, dtype=np.int64) for i in ids]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids, special tokens dropped."""
        if isinstance(self._tokenizer, ByteTokenizer):
            return self._tokenizer.decode(ids)
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.name!r}, '
                f'max_length={self.max_length})')


class ClassTextTokens:
    """Token ids of a bank's prompts, tokenized once per class.

    Prompt ``(c, t)`` is template ``t`` filled with class ``c``'s text, as
    :meth:`ClassTextBank.sample_texts` and :meth:`ensemble_texts` make it;
    its ids equal tokenizing that string directly. A class is tokenized, all
    its templates in one call with the other missing classes, the first
    time one of its prompts is asked for.

    Args:
        bank (ClassTextBank): The classes and templates.
        tokenizer (TextTokenizer): The tokenizer.
    """

    def __init__(self, bank, tokenizer: TextTokenizer) -> None:
        self.bank = bank
        self.tokenizer = tokenizer
        self.key = (bank.fingerprint, tokenizer.fingerprint)
        self.dtype = np.uint16 if tokenizer.vocab_size <= 65536 else np.int32
        # class -> (flat ids of its templates, offsets of length T + 1)
        self._classes: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    #: prompts per tokenizer call: bounds the transient lists it returns
    chunk_texts = 8192

    def prepare(self, classes: Optional[Sequence[int]] = None) -> None:
        """Tokenize the classes not tokenized yet (default: all)."""
        if classes is None:
            classes = range(len(self.bank))
        missing = sorted({int(c) for c in classes} - set(self._classes))
        num_t = self.bank.num_templates
        step = max(1, self.chunk_texts // num_t)
        for start in range(0, len(missing), step):
            chunk = missing[start:start + step]
            ids = self.tokenizer(self.bank.ensemble_texts(chunk))
            for i, c in enumerate(chunk):
                rows = ids[i * num_t:(i + 1) * num_t]
                offsets = np.zeros(num_t + 1, dtype=np.int64)
                offsets[1:] = np.cumsum([len(r) for r in rows])
                self._classes[c] = (np.concatenate(rows).astype(self.dtype),
                                    offsets)

    def pairs(self, classes: Sequence[int],
              templates: Sequence[int]) -> List[np.ndarray]:
        """Ids of prompts ``(classes[i], templates[i])``."""
        self.prepare(classes)
        out = []
        for c, t in zip(classes, templates):
            flat, offsets = self._classes[int(c)]
            out.append(flat[offsets[t]:offsets[t + 1]])
        return out

    def ensemble(self, classes: Sequence[int]) -> List[np.ndarray]:
        """Ids of every template of each class, class-major (as
        :meth:`ClassTextBank.ensemble_texts`)."""
        num_t = self.bank.num_templates
        classes = list(classes)
        return self.pairs([c for c in classes for _ in range(num_t)],
                          [t for _ in classes for t in range(num_t)])

    @property
    def num_cached(self) -> int:
        """Number of classes tokenized so far."""
        return len(self._classes)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached ids and offsets."""
        return sum(f.nbytes + o.nbytes for f, o in self._classes.values())


def length_buckets(lengths: Sequence[int],
                   max_tokens: int = 16384,
                   min_fill: float = 0.9,
                   min_count: int = 32) -> List[np.ndarray]:
    """Group texts by length into batches padded to their own longest.

    Texts are taken in order of length; a batch grows while its padded size
    (``count x longest``) stays within ``max_tokens`` and, once it holds
    ``min_count`` texts, its real tokens fill at least ``min_fill`` of it
    (fewer, larger batches for small sets: each forward pass has a cost).

    Args:
        lengths (Sequence[int]): Token count of each text.
        max_tokens (int): Padded tokens per batch (memory of one forward
            pass). Defaults to 16384.
        min_fill (float): Least share of real tokens in a batch of
            ``min_count`` texts or more. Defaults to 0.9.
        min_count (int): Texts a batch takes before ``min_fill`` may close
            it. Defaults to 32.

    Returns:
        list[np.ndarray]: Indices of the texts of each batch.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind='stable')
    buckets, start, real = [], 0, 0
    for i, idx in enumerate(order):
        n, longest = i - start + 1, int(lengths[idx])
        if i > start and (n * longest > max_tokens or
                          (n > min_count and
                           (real + longest) < min_fill * n * longest)):
            buckets.append(order[start:i])
            start, real = i, 0
        real += int(lengths[idx])
    if len(order):
        buckets.append(order[start:])
    return buckets


def pad_ids(ids: Sequence[np.ndarray], pad_id: int,
            device: Optional[torch.device] = None
            ) -> Dict[str, torch.Tensor]:
    """Right-pad token ids to the longest: ``input_ids`` and
    ``attention_mask`` (``long``) on ``device``."""
    width = max(len(i) for i in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = seq
        mask[row, :len(seq)] = 1
    return dict(input_ids=torch.from_numpy(input_ids).to(device),
                attention_mask=torch.from_numpy(mask).to(device))
