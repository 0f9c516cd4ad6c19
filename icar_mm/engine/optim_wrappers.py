"""An optimizer wrapper for mixed precision on machines without a GPU."""
import warnings
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from icar_mm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUBF16AmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under CPU bfloat16 autocast.

    Stands in for ``AmpOptimWrapper`` on machines without an accelerator:
    mmengine 0.10.7's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU/MUSA
    device, but mmengine's ``autocast`` supports bfloat16 on the CPU.
    bfloat16 has float32's exponent range, so no loss scaling is needed.
    ``tools/train.py --amp`` switches to it where no such device exists
    (:func:`icar_mm.utils.setup_env.setup_amp`).

    Args:
        loss_scale (Any): Ignored (accepted for ``AmpOptimWrapper``
            configs).
        dtype (str or torch.dtype, optional): Must be None or bfloat16,
            the only CPU autocast dtype mmengine supports.
        use_fsdp (bool): Ignored (accepted for ``AmpOptimWrapper``
            configs).
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 loss_scale=None,
                 dtype=None,
                 use_fsdp: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            warnings.warn(f'CPU autocast only supports bfloat16, '
                          f'not {dtype}: using bfloat16')
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient-accumulation context plus CPU bfloat16 autocast.

        Args:
            model (nn.Module): The training model.
        """
        from mmengine.runner.amp import autocast
        with super().optim_context(model), autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
