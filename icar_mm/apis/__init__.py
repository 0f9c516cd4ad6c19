"""Inference APIs of icar_mm."""
from .model_loading import init_model
from .zero_shot_inferencer import ZeroShotInferencer, parse_texts

__all__ = ['init_model', 'ZeroShotInferencer', 'parse_texts']
