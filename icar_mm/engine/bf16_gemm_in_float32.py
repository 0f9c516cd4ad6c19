"""bfloat16 matmuls and convolutions computed by float32 kernels."""
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map

aten = torch.ops.aten

#: the operators whose bfloat16 CPU kernels are slow without native bfloat16
#: (forward and backward of ``nn.Linear``, ``torch.matmul``, ``nn.Conv*``);
#: functional overloads only: in-place and ``out=`` ones run unchanged
GEMM_OPS = frozenset({
    aten.mm.default,
    aten.addmm.default,
    aten.bmm.default,
    aten.baddbmm.default,
    aten.addbmm.default,
    aten.convolution.default,
    aten.convolution_backward.default,
})


def _is_float_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point()


def _to(dtype: torch.dtype, source: torch.dtype) -> Callable[[Any], Any]:
    """A function casting floating-point tensors of dtype ``source`` to
    ``dtype`` and returning anything else as is."""

    def cast(x: Any) -> Any:
        return x.to(dtype) if _is_float_tensor(x) and x.dtype == source \
            else x

    return cast


class BF16GemmInFloat32(TorchDispatchMode):
    """Compute bfloat16 matmuls and convolutions with float32 kernels.

    Inside this mode an operator of :data:`GEMM_OPS` whose floating-point
    operands are all bfloat16 reads them as float32 (exact: every bfloat16
    is a float32), runs the float32 kernel, and rounds its results to
    bfloat16: bfloat16 operands, products summed in float32, the result
    rounded once, as a bfloat16 kernel computes them; the order of the
    sums and the handling of subnormals may differ from a CPU with native
    bfloat16, against which it was not compared. Every other operator,
    and the in-place and ``out=`` overloads, run unchanged.

    It is for CPUs without native bfloat16 (AVX2 only), where torch's
    bfloat16 matmul and convolution kernels made an ablation training
    step 18x to 32x slower than this mode
    (``tools/benchmark/results/ablation_step_avx2.json``). The mode sits
    below autograd, so the backward pass must run inside it too for its
    matmuls to be covered.

    Example:
        >>> with BF16GemmInFloat32(), torch.autocast('cpu', torch.bfloat16):
        ...     loss = model(x).sum()
        >>> with BF16GemmInFloat32():
        ...     loss.backward()
    """

    def __torch_dispatch__(self,
                           func: torch._ops.OpOverload,
                           types: Tuple[type, ...],
                           args: Tuple = (),
                           kwargs: Optional[Dict] = None) -> Any:
        """Run ``func`` on float32 kernels if it is a bfloat16 matmul.

        Args:
            func (OpOverload): The aten operator.
            types (tuple[type]): Tensor subclasses of the arguments.
            args (tuple): Its positional arguments.
            kwargs (dict, optional): Its keyword arguments.

        Returns:
            Any: What ``func`` returns (bfloat16 where it would be).
        """
        kwargs = kwargs or {}
        if func in GEMM_OPS:
            floats = [x for x in tree_leaves((args, kwargs))
                      if _is_float_tensor(x)]
            if floats and all(x.dtype == torch.bfloat16 for x in floats):
                args, kwargs = tree_map(
                    _to(torch.float32, torch.bfloat16), (args, kwargs))
                return tree_map(_to(torch.bfloat16, torch.float32),
                                func(*args, **kwargs))
        return func(*args, **kwargs)
