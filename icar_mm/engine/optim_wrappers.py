"""An optimizer wrapper for mixed precision on machines without a GPU."""
import logging
import warnings
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from icar_mm.registry import OPTIM_WRAPPERS
from icar_mm.utils.setup_env import has_native_cpu_bf16


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
    slow kernels, 19x to 44x slower than float32, so by
    default the wrapper trains in float32 there and says so in the log;
    ``allow_emulated=True`` keeps bfloat16 autocast (as on a CPU that
    has it; for tests and for runs that must match such a CPU's).

    Args:
        loss_scale (Any): Ignored (accepted for ``AmpOptimWrapper``
            configs).
        dtype (str or torch.dtype, optional): Must be None or bfloat16,
            the only CPU autocast dtype mmengine supports.
        use_fsdp (bool): Ignored (accepted for ``AmpOptimWrapper``
            configs).
        allow_emulated (bool): Use bfloat16 autocast even on a CPU without
            native bfloat16. Defaults to False (float32 there, logged).
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 loss_scale=None,
                 dtype=None,
                 use_fsdp: bool = False,
                 allow_emulated: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            warnings.warn(f'CPU autocast only supports bfloat16, '
                          f'not {dtype}: using bfloat16')
        self.cast_dtype = torch.bfloat16
        #: whether the forward runs under bfloat16 autocast
        self.autocast_enabled = has_native_cpu_bf16() or allow_emulated
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
        with super().optim_context(model), autocast(
                device_type='cpu', dtype=self.cast_dtype,
                enabled=self.autocast_enabled):
            yield
