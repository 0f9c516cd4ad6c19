"""A dispatch mode that records the dtypes its matmul kernels receive."""
from typing import Dict, List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from icar_mm.engine.bf16_gemm_in_float32 import GEMM_OPS


class GemmRecorder(TorchDispatchMode):
    """Records ``(op name, floating-point operand dtypes)`` of every
    matmul or convolution that reaches it.

    Entered *outside* :class:`~icar_mm.engine.BF16GemmInFloat32` (that is,
    first), it sees the operands the kernels run on after that mode
    converted them: inner modes dispatch to outer ones.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[Tuple[str, Tuple[torch.dtype, ...]]] = []

    def __torch_dispatch__(self,
                           func,
                           types,
                           args: Tuple = (),
                           kwargs: Optional[Dict] = None):
        kwargs = kwargs or {}
        if func in GEMM_OPS:
            self.calls.append((func.__name__, tuple(
                x.dtype for x in tree_leaves((args, kwargs))
                if isinstance(x, torch.Tensor) and x.is_floating_point())))
        return func(*args, **kwargs)

    def dtypes(self) -> set:
        """The operand dtypes seen, over all calls."""
        return {d for _, ds in self.calls for d in ds}
