from .cached_text_encoder import CachedFrozenTextEncoder
from .text_classifier import (ScoredClassCount, TextClassifier,
                              build_text_classifier)
from .text_encoder import TextEncoder

__all__ = [
    'CachedFrozenTextEncoder', 'ScoredClassCount', 'TextClassifier',
    'build_text_classifier', 'TextEncoder'
]
