"""Caption cleaning in the data pipeline (tokenization stays in the model).

Captions travel through the pipeline as strings (``results['text']``) and
are packed by ``PackInputs(algorithm_keys=['text'])``; the model's
``TextEncoder`` tokenizes and truncates them to its ``max_length``, the same
way as class texts. This transform only cleans the string.
"""
import html
import re
from typing import Optional

from mmcv.transforms import BaseTransform

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
