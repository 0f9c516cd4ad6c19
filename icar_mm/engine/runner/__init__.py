from .two_stream_train_loop import TwoStreamIterBasedTrainLoop
from .zero_shot_val_loop import ZeroShotTestLoop, ZeroShotValLoop

__all__ = [
    'TwoStreamIterBasedTrainLoop', 'ZeroShotTestLoop', 'ZeroShotValLoop'
]
