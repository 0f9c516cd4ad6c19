"""The logit scale ``1 / tau`` of cosine logits, learnable or fixed."""
import math

import torch
import torch.nn as nn


def register_log_scale(module: nn.Module, scale: float,
                       learnable: bool) -> None:
    """Give ``module`` a ``log_scale`` tensor equal to ``log(scale)``.

    A parameter when ``learnable`` (CLIP learns ``log(1 / tau)``), else a
    buffer: saved in checkpoints, never trained.

    Args:
        module (nn.Module): The module (a loss, a classifier, a head).
        scale (float): The initial scale ``1 / tau``.
        learnable (bool): Whether the optimizer trains it.
    """
    log_scale = torch.tensor(math.log(scale))
    if learnable:
        module.log_scale = nn.Parameter(log_scale)
    else:
        module.register_buffer('log_scale', log_scale)
