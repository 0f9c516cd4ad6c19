from .cosine_cls_head import CosineClsHead
from .text_meta_cls_head import TextMetaClsHead

__all__ = ['CosineClsHead', 'TextMetaClsHead']
