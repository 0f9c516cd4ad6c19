from .byte_tokenizer import ByteTokenizer
from .class_text_bank import ClassTextBank, build_class_text_bank
from .class_text_sources import imagenet_class_texts, load_class_text_file
from .templates import TEMPLATES, get_templates
from .text_classifier import TextClassifier, build_text_classifier
from .text_cosine_classifier import TextCosineClassifier
from .text_encoder import TextEncoder

__all__ = [
    'ByteTokenizer', 'ClassTextBank', 'build_class_text_bank',
    'build_text_classifier', 'imagenet_class_texts', 'load_class_text_file',
    'TEMPLATES', 'get_templates', 'TextClassifier', 'TextCosineClassifier',
    'TextEncoder'
]
