from .byte_tokenizer import ByteTokenizer
from .text_classifier import (ScoredClassCount, TextClassifier,
                              build_text_classifier)
from .text_encoder import TextEncoder

__all__ = [
    'ByteTokenizer', 'ScoredClassCount', 'TextClassifier',
    'build_text_classifier', 'TextEncoder'
]
