from .backbones import *  # noqa: F401,F403
from .data_preprocessor import TwoStreamDataPreprocessor
from .heads import *  # noqa: F401,F403
from .icar import ICAR
from .losses import *  # noqa: F401,F403
from .text import *  # noqa: F401,F403

__all__ = ['ICAR', 'TwoStreamDataPreprocessor']
