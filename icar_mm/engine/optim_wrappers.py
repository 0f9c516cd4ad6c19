"""An optimizer wrapper for mixed precision on machines without a GPU."""
import logging
import warnings
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from icar_mm.registry import OPTIM_WRAPPERS
from icar_mm.utils.setup_env import has_native_cpu_bf16
from .bf16_gemm_in_float32 import BF16GemmInFloat32


@OPTIM_WRAPPERS.register_module()
class CPUBF16AmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under CPU bfloat16 autocast.

    Stands in for ``AmpOptimWrapper`` on machines without an accelerator:
    mmengine 0.10.7's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU/MUSA
    device, but mmengine's ``autocast`` supports bfloat16 on the CPU.
    bfloat16 has float32's exponent range, so no loss scaling is needed.
    ``tools/train.py --amp`` switches to it where no such device exists
    (:func:`icar_mm.utils.setup_env.setup_amp`).

    On a CPU without native bfloat16 (AVX2 only:
    :func:`icar_mm.utils.setup_env.has_native_cpu_bf16`) autocast runs
    slow kernels (an ablation training step 18x to 32x slower than with
    :class:`BF16GemmInFloat32`,
    ``tools/benchmark/results/ablation_step_avx2.json``), so by
    default the wrapper trains in float32 there and says so in the log;
    ``allow_emulated=True`` keeps bfloat16 autocast (for runs that must
    match a bfloat16 CPU's), with its matmuls and convolutions computed
    by float32 kernels from their bfloat16 operands
    (:class:`~icar_mm.engine.bf16_gemm_in_float32.BF16GemmInFloat32`,
    forward and backward) at about the float32 path's speed.

    Args:
        loss_scale (Any): Ignored (accepted for ``AmpOptimWrapper``
            configs).
        dtype (str or torch.dtype, optional): Must be None or bfloat16,
            the only CPU autocast dtype mmengine supports.
        use_fsdp (bool): Ignored (accepted for ``AmpOptimWrapper``
            configs).
        allow_emulated (bool): Use bfloat16 autocast even on a CPU without
            native bfloat16. Defaults to False (float32 there, logged).
        gemm_in_float32 (bool): With ``allow_emulated`` on such a CPU,
            compute the bfloat16 matmuls and convolutions with float32
            kernels. Defaults to True; False runs torch's bfloat16
            kernels there (the slow path, kept to measure it).
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 loss_scale=None,
                 dtype=None,
                 use_fsdp: bool = False,
                 allow_emulated: bool = False,
                 gemm_in_float32: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            warnings.warn(f'CPU autocast only supports bfloat16, '
                          f'not {dtype}: using bfloat16')
        self.cast_dtype = torch.bfloat16
        #: whether the forward runs under bfloat16 autocast
        native = has_native_cpu_bf16()
        self.autocast_enabled = native or allow_emulated
        #: whether bfloat16 matmuls and convolutions run float32 kernels
        self.gemm_in_float32 = (self.autocast_enabled and not native
                                and gemm_in_float32)
        if self.gemm_in_float32:
            print_log(
                'This CPU has no native bfloat16 (torch CPU capability '
                f'{torch.backends.cpu.get_cpu_capability()}): bfloat16 '
                'autocast computes its matmuls and convolutions with float32 '
                'kernels from bfloat16 operands, rounding their results to '
                'bfloat16 (BF16GemmInFloat32).',
                logger='current',
                level=logging.INFO)
        if not self.autocast_enabled:
            print_log(
                'This CPU has no native bfloat16 (torch CPU capability '
                f'{torch.backends.cpu.get_cpu_capability()}; oneDNN needs '
                'AVX-512): bfloat16 autocast would run an order of magnitude '
                'slower than float32 here, so this run trains in FLOAT32, '
                'not mixed precision. Set optim_wrapper.allow_emulated=True '
                'to use bfloat16 anyway (slow), or '
                'optim_wrapper.type=OptimWrapper to silence this.',
                logger='current',
                level=logging.WARNING)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient-accumulation context plus CPU bfloat16 autocast.

        Args:
            model (nn.Module): The training model.
        """
        from mmengine.runner.amp import autocast
        with super().optim_context(model), self.gemm_context(), autocast(
                device_type='cpu', dtype=self.cast_dtype,
                enabled=self.autocast_enabled):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Backward pass inside :meth:`gemm_context`.

        Args:
            loss (torch.Tensor): The loss.
            **kwargs: Passed to :meth:`torch.Tensor.backward`.
        """
        with self.gemm_context():
            super().backward(loss, **kwargs)

    def gemm_context(self) -> ContextManager:
        """The context of this wrapper's bfloat16 matmul kernels.

        :class:`BF16GemmInFloat32` where bfloat16 matmuls run float32
        kernels, else a null context. :meth:`optim_context` and
        :meth:`backward` enter it; a backward pass that does not go
        through :meth:`backward` (e.g. feature-cache accumulation's) must
        enter it too, as the mode sits below autograd.

        Returns:
            ContextManager: The context.
        """
        return BF16GemmInFloat32() if self.gemm_in_float32 \
            else nullcontext()
