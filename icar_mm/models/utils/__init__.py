from .distributed import (all_gather_no_grad, all_gather_with_grad,
                          rank_offset, rank_slice)
from .logit_scale import register_log_scale

__all__ = [
    'all_gather_no_grad', 'all_gather_with_grad', 'rank_offset',
    'rank_slice', 'register_log_scale'
]
