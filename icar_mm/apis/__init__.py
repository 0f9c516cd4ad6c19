"""Inference APIs of icar_mm."""
from .model_loading import init_model
from .vocabulary import (build_zero_shot_classifier, set_vocabulary,
                         text_classifiers)
from .wise_ft import fine_tuning_start, interpolate_weights, wise_ft_curve
from .zero_shot_inferencer import ZeroShotInferencer, parse_texts

__all__ = [
    'build_zero_shot_classifier', 'fine_tuning_start', 'init_model',
    'interpolate_weights', 'parse_texts', 'set_vocabulary',
    'text_classifiers', 'wise_ft_curve', 'ZeroShotInferencer'
]
