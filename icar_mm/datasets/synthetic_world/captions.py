"""Web-like captions of synthetic-world scenes.

A caption always names the colour and the shape of the main object (by a
random synonym), sometimes its texture, size and position, in a random
template; it never uses a class name's nonce word. See
``docs/synthetic_world.md``.
"""
import re
from typing import Sequence, Tuple, Union

import numpy as np

from .vocabulary import (COLOUR_SYNONYMS, SHAPE_SYNONYMS, SIZE_WORDS,
                         TEXTURE_WORDS, article)

CAPTION_TEMPLATES: Tuple[str, ...] = (
    '{np}{pos}',
    'a picture of {np}{pos}',
    'a photo of {np}{pos}',
    'an image showing {np}{pos}',
    '{np}{pos} on a noisy background',
    'there is {np}{pos}',
    'a drawing of {np}{pos}',
    '{np}{pos}, drawn on a cluttered grey background',
    'a low-resolution picture of {np}{pos}',
    'somebody drew {np}{pos}',
)


def mentions(text: str, words: Sequence[str]) -> bool:
    """Whether ``text`` contains one of ``words`` as a whole word/phrase."""
    return any(
        re.search(r'(?<![\w-])' + re.escape(w) + r'(?![\w-])', text)
        for w in words)


class CaptionMixin:
    """Captions of the world's scenes."""

    @staticmethod
    def position_words(obj: dict, image_size: int) -> Tuple[str, str]:
        """(vertical, horizontal) third of the object's centre: ``top`` /
        ``middle`` / ``bottom`` and ``left`` / ``centre`` / ``right``."""
        cx, cy = obj['center']
        third = image_size / 3
        h = ('left', 'centre', 'right')[min(int(cx // third), 2)]
        v = ('top', 'middle', 'bottom')[min(int(cy // third), 2)]
        return v, h

    def caption(self, scene: dict, rng: Union[int,
                                             np.random.Generator]) -> str:
        """A web-like caption of the scene's main object.

        Always mentions colour and shape (by a random synonym), sometimes
        texture, size and position, in a random template.

        Args:
            scene (dict): A scene from :meth:`sample_scene`.
            rng (int | np.random.Generator): Random generator (or its seed).

        Returns:
            str: The caption (lower case).
        """
        rng = np.random.default_rng(rng)

        def pick(seq):
            return seq[int(rng.integers(len(seq)))]

        obj = scene['objects'][0]
        adjs, post = [], ''
        if rng.random() < 0.5:
            adjs.append(pick(SIZE_WORDS[obj['size']]))
        if rng.random() < 0.5:
            pre, postfix = TEXTURE_WORDS[obj['texture']]
            if postfix and rng.random() < 0.4:
                post = ' ' + pick(postfix)
            else:
                adjs.append(pick(pre))
        adjs.append(pick(COLOUR_SYNONYMS[obj['colour']]))
        words = adjs + [pick(SHAPE_SYNONYMS[obj['shape']])]
        np_ = f'{article(words[0])} {" ".join(words)}{post}'
        pos = ''
        if rng.random() < 0.5:
            v, h = self.position_words(obj, scene['image_size'])
            if v != 'middle' and h != 'centre':
                pos = pick((f'near the {v} {h}', f'in the {v} {h} corner',
                            f'at the {v} {h}'))
            elif v != 'middle':
                pos = pick((f'at the {v}', f'near the {v}',
                            f'close to the {v} edge'))
            elif h != 'centre':
                pos = pick((f'on the {h}', f'on the {h} side',
                            f'near the {h} edge'))
            else:
                pos = pick(('in the middle', 'in the centre',
                            'in the center of the image'))
            pos = ' ' + pos
        return pick(CAPTION_TEMPLATES).format(np=np_, pos=pos)
