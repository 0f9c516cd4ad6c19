"""Cosine classifier with parametric class weights (a baseline of iCAR)."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead

from icar_mm.registry import MODELS
from ..utils.logit_scale import register_log_scale


@MODELS.register_module()
class CosineClsHead(ClsHead):
    """``logit = cos(w_c, f) / tau`` with learned weights ``w_c`` (A1 only).

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Feature dimension.
        tau (float): Temperature. Defaults to 0.05.
        learnable_tau (bool): Learn ``log(1 / tau)``. Defaults to False.
        **kwargs: ``loss``, ``topk``, ``cal_acc``, ``init_cfg`` of
            :class:`ClsHead`.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 tau: float = 0.05,
                 learnable_tau: bool = False,
                 init_cfg: Optional[Dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes, bias=False)
        register_log_scale(self, 1. / tau, learnable_tau)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """``(N, num_classes)`` scaled cosine logits."""
        x = F.normalize(self.pre_logits(feats), dim=-1)
        w = F.normalize(self.fc.weight, dim=-1)
        return self.log_scale.exp() * x @ w.t()
