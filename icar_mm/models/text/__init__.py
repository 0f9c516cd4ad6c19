from .text_classifier import (ScoredClassCount, TextClassifier,
                              build_text_classifier)
from .text_encoder import TextEncoder

__all__ = [
    'ScoredClassCount', 'TextClassifier', 'build_text_classifier',
    'TextEncoder'
]
