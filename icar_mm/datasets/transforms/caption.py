"""Captions in the data pipeline: cleaning, and tokenization in the workers.

Captions travel through the pipeline as strings (``results['text']``),
packed by ``PackInputs(algorithm_keys=['text'])``; the model's
``TextEncoder`` then tokenizes them in the training process.
:class:`TokenizeCaption` moves that work into the dataloader workers with the
same :class:`~icar_mm.class_texts.tokens.TextTokenizer` (one definition of
how a text becomes tokens); the model checks that the tokenizers agree.
"""
import html
import re
from typing import Optional

from mmcv.transforms import BaseTransform

from icar_mm.class_texts.tokens import TextTokenizer
from icar_mm.registry import TRANSFORMS
from .loading import BadSampleError

_WS = re.compile(r'\s+')


def clean_caption(text: str,
                  fix_text: bool = True,
                  unescape_html: bool = True,
                  whitespace: bool = True,
                  lowercase: bool = False,
                  max_chars: Optional[int] = None) -> str:
    """Clean a web caption the way CLIP's tokenizer does before BPE.

    Args:
        text (str): The caption.
        fix_text (bool): Repair mojibake with ``ftfy.fix_text``.
        unescape_html (bool): Unescape HTML entities (twice, as CLIP does).
        whitespace (bool): Collapse runs of whitespace and strip.
        lowercase (bool): Lower-case the caption.
        max_chars (int, optional): Cut the caption at this many characters
            (a cheap guard before tokenization; the tokenizer truncates to
            its token limit anyway).

    Returns:
        str: The cleaned caption (may be empty).
    """
    if fix_text:
        import ftfy
        text = ftfy.fix_text(text)
    if unescape_html:
        text = html.unescape(html.unescape(text))
    if whitespace:
        text = _WS.sub(' ', text).strip()
    if lowercase:
        text = text.lower()
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars].rstrip()
    return text


@TRANSFORMS.register_module()
class CleanWebCaption(BaseTransform):
    """Clean ``results['text']``; an empty caption is a bad sample.

    Required keys: ``text``. Modified keys: ``text``.

    Args:
        fix_text (bool): Repair mojibake with ftfy. Defaults to True.
        unescape_html (bool): Unescape HTML entities. Defaults to True.
        whitespace (bool): Collapse whitespace. Defaults to True.
        lowercase (bool): Lower-case. Defaults to False.
        max_chars (int, optional): Cut longer captions. Defaults to 1000.
        min_chars (int): Shorter cleaned captions raise
            :class:`BadSampleError` (``'empty_caption'``). Defaults to 1.
    """

    def __init__(self,
                 fix_text: bool = True,
                 unescape_html: bool = True,
                 whitespace: bool = True,
                 lowercase: bool = False,
                 max_chars: Optional[int] = 1000,
                 min_chars: int = 1) -> None:
        self.kwargs = dict(
            fix_text=fix_text,
            unescape_html=unescape_html,
            whitespace=whitespace,
            lowercase=lowercase,
            max_chars=max_chars)
        self.min_chars = min_chars

    def transform(self, results: dict) -> dict:
        text = results.get('text')
        text = clean_caption('' if text is None else str(text),
                             **self.kwargs)
        if len(text) < self.min_chars:
            raise BadSampleError(
                'empty_caption', str(results.get('img_path', '')),
                f'caption shorter than {self.min_chars} characters after '
                'cleaning')
        results['text'] = text
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())
        return f'{self.__class__.__name__}({args}, min_chars={self.min_chars})'


@TRANSFORMS.register_module()
class TokenizeCaption(BaseTransform):
    """Token ids of ``results['text']``, made in the dataloader worker.

    Pack the keys with ``PackInputs(algorithm_keys=['text', 'text_ids',
    'text_tokenizer'])``. Left unset, ``tokenizer`` and ``max_length`` are
    the model's text encoder's (the two-stream train loop fills them in), so
    one config key decides the tokenizer. The model encodes the ids without
    tokenizing and stops with an error if ``text_tokenizer`` (the
    tokenizer's fingerprint) differs from its own.

    Required keys: ``text``. Added keys: ``text_ids`` (``int64`` array),
    ``text_tokenizer``.

    Args:
        tokenizer (str, optional): As ``TextEncoder``'s ``tokenizer`` (or its
            ``pretrained``): a directory, ``'package:NAME'`` or ``'byte'``.
        max_length (int, optional): As ``TextEncoder``'s.
    """

    def __init__(self,
                 tokenizer: Optional[str] = None,
                 max_length: Optional[int] = None) -> None:
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self._tokenizer: Optional[TextTokenizer] = None  # built per worker

    def transform(self, results: dict) -> dict:
        if self._tokenizer is None:
            if self.tokenizer_name is None or self.max_length is None:
                raise ValueError(
                    'TokenizeCaption needs `tokenizer` and `max_length`: '
                    'the two-stream train loop sets them to the text '
                    "encoder's; elsewhere give them.")
            self._tokenizer = TextTokenizer(self.tokenizer_name,
                                            self.max_length)
        results['text_ids'] = self._tokenizer([results['text']])[0]
        results['text_tokenizer'] = self._tokenizer.fingerprint
        return results

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _tokenizer=None)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.tokenizer_name!r}, '
                f'max_length={self.max_length})')
