"""The words of the synthetic world: attributes, synonyms, glosses, names.

Objects have a colour, a shape, a texture and a size. Class names and
descriptions use the canonical word (the first synonym); captions pick any
synonym, and add texture and size words that no class name uses. See
``docs/synthetic_world.md``.
"""
from typing import Dict, Tuple

#: Colour words and their RGB values (well apart in RGB).
COLOUR_RGB: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 35, 35),
    'green': (35, 170, 45),
    'blue': (35, 70, 225),
    'yellow': (235, 215, 30),
    'purple': (140, 40, 185),
    'orange': (245, 135, 25),
}
COLOURS: Tuple[str, ...] = tuple(COLOUR_RGB)
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'cross', 'star',
                           'diamond')
TEXTURES: Tuple[str, ...] = ('plain', 'striped', 'dotted')
SIZES: Tuple[str, ...] = ('small', 'large')

#: Synonyms used in captions; the first one is the canonical word used in
#: class names and descriptions, the second one in class aliases.
COLOUR_SYNONYMS: Dict[str, Tuple[str, ...]] = {
    'red': ('red', 'crimson', 'scarlet'),
    'green': ('green', 'emerald', 'grass-green'),
    'blue': ('blue', 'azure', 'cobalt'),
    'yellow': ('yellow', 'golden', 'lemon'),
    'purple': ('purple', 'violet', 'plum-coloured'),
    'orange': ('orange', 'amber', 'tangerine'),
}
SHAPE_SYNONYMS: Dict[str, Tuple[str, ...]] = {
    'circle': ('circle', 'disc', 'round shape'),
    'square': ('square', 'box', 'square tile'),
    'triangle': ('triangle', 'wedge', 'three-sided shape'),
    'cross': ('cross', 'plus sign', 'plus shape'),
    'star': ('star', 'five-pointed star', 'star shape'),
    'diamond': ('diamond', 'rhombus', 'lozenge'),
}
#: Dictionary-style glosses of the shapes, used in class descriptions.
SHAPE_GLOSSES: Dict[str, str] = {
    'circle': 'a round flat shape',
    'square': 'a shape with four equal straight sides',
    'triangle': 'a shape with three straight sides and three corners',
    'cross': 'two bars crossing like a plus sign',
    'star': 'a shape with five pointed arms',
    'diamond': 'a tall rhombus standing on one corner',
}
#: Caption words for textures and sizes: (adjectives, postfix phrases).
TEXTURE_WORDS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    'plain': (('plain', 'solid', 'flat-coloured'), ()),
    'striped': (('striped', 'stripy'), ('with stripes', )),
    'dotted': (('dotted', 'spotted', 'polka-dot'),
               ('with dots', 'covered in dots')),
}
SIZE_WORDS: Dict[str, Tuple[str, ...]] = {
    'small': ('small', 'tiny', 'little'),
    'large': ('large', 'big', 'huge'),
}
#: Uninformative names for half of the classes.
NONCE_NAMES: Tuple[str, ...] = (
    'blicket', 'dax', 'wug', 'toma', 'zorp', 'fep', 'gazzer', 'modi', 'pilk',
    'tufa', 'zav', 'glorp', 'nerm', 'quib', 'snarv', 'yeb', 'lorp', 'vosk')


def article(word: str) -> str:
    """The indefinite article of a word: ``'a'`` or ``'an'``."""
    return 'an' if word[0] in 'aeiou' else 'a'
