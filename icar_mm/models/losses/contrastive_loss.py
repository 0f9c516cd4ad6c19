"""Symmetric InfoNCE of CLIP, correct across ranks."""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from icar_mm.registry import MODELS
from ..utils.distributed import all_gather_with_grad, rank_offset
from ..utils.logit_scale import register_log_scale


@MODELS.register_module()
class ContrastiveLoss(nn.Module):
    """Image-text contrastive loss with a learnable logit scale.

    ``L = (CE(s F G^T, y) + CE(s G F^T, y)) / 2`` over normalised image
    features ``F`` and text features ``G``. Across ranks it computes the
    *local* loss of OpenCLIP's ``--local-loss --gather-with-grad``: this
    rank's rows against the gathered features of all ranks, whose backward
    reaches the other ranks' encoders. Under DDP (gradients averaged) the
    update equals the single-process loss on the global batch, while the
    logit matrix is ``n_local x N`` rather than ``N x N``.

    Args:
        init_temperature (float): Initial temperature; the scale starts at
            ``1 / init_temperature``. Defaults to 0.07.
        max_scale (float): Clamp of the scale. Defaults to 100.
        learnable (bool): Learn the scale. Defaults to True.
        loss_weight (float): Weight ``lambda`` of the loss. Defaults to 1.
    """

    def __init__(self,
                 init_temperature: float = 0.07,
                 max_scale: float = 100.,
                 learnable: bool = True,
                 loss_weight: float = 1.) -> None:
        super().__init__()
        register_log_scale(self, 1. / init_temperature, learnable)
        self.max_scale = max_scale
        self.loss_weight = loss_weight

    @property
    def scale(self) -> torch.Tensor:
        """The logit scale ``1 / tau``, clamped at ``max_scale``."""
        return self.log_scale.exp().clamp(max=self.max_scale)

    def forward(self, image_feats: torch.Tensor,
                text_feats: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Compute the loss.

        Args:
            image_feats (Tensor): ``(n, D)`` this rank's image features.
            text_feats (Tensor): ``(n, D)`` the paired text features.

        Returns:
            dict: ``loss_itc`` (weighted) and ``itc_scale`` (for logging).
        """
        image_feats = F.normalize(image_feats, dim=-1)
        text_feats = F.normalize(text_feats, dim=-1)
        all_images = all_gather_with_grad(image_feats)
        all_texts = all_gather_with_grad(text_feats)
        n = image_feats.shape[0]
        offset = rank_offset(n, image_feats.device)
        labels = torch.arange(n, device=image_feats.device) + offset
        scale = self.scale
        logits_per_image = scale * image_feats @ all_texts.t()
        logits_per_text = scale * text_feats @ all_images.t()
        loss = (F.cross_entropy(logits_per_image, labels) +
                F.cross_entropy(logits_per_text, labels)) / 2
        return dict(
            loss_itc=self.loss_weight * loss, itc_scale=scale.detach())
