from .cosine_cls_head import CosineClsHead
from .text_meta_classifier import TextMetaClassifier, TextMetaClsHead

__all__ = ['CosineClsHead', 'TextMetaClassifier', 'TextMetaClsHead']
