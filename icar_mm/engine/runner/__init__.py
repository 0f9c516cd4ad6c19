from .two_stream_train_loop import TwoStreamIterBasedTrainLoop

__all__ = ['TwoStreamIterBasedTrainLoop']
