"""Inference APIs of icar_mm."""
from .model_loading import init_model
from .vocabulary import (build_zero_shot_classifier, set_vocabulary,
                         text_classifiers)
from .zero_shot_inferencer import ZeroShotInferencer, parse_texts

__all__ = [
    'build_zero_shot_classifier', 'init_model', 'parse_texts',
    'set_vocabulary', 'text_classifiers', 'ZeroShotInferencer'
]
