from .distributed import (all_gather_no_grad, all_gather_with_grad,
                          rank_offset, rank_slice)

__all__ = [
    'all_gather_no_grad', 'all_gather_with_grad', 'rank_offset', 'rank_slice'
]
