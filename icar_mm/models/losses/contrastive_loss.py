"""Symmetric InfoNCE of CLIP (and UniCL's label-aware form), correct
across ranks."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from icar_mm.registry import MODELS
from ..utils.distributed import (all_gather_no_grad, all_gather_with_grad,
                                 rank_offset)
from ..utils.logit_scale import register_log_scale


def pair_labels(n: int, labels: Optional[torch.Tensor],
                device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """This rank's pair labels and those of all ranks, in rank order.

    Without ``labels`` each pair is its own label (its global index), so
    only the pair itself is a positive.

    Args:
        n (int): Pairs on this rank.
        labels (Tensor, optional): ``(n, )`` integer label of each pair.
        device (torch.device): Device of the features.

    Returns:
        tuple: ``(n, )`` and ``(N, )`` labels.
    """
    if labels is None:
        mine = torch.arange(n, device=device) + rank_offset(n, device)
    else:
        if labels.shape != (n, ):
            raise ValueError(f'labels of shape {tuple(labels.shape)} for '
                             f'{n} pairs: give one label per pair.')
        mine = labels.to(device=device, dtype=torch.long)
    return mine, all_gather_no_grad(mine)


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

    With ``labels`` it is UniCL's bidirectional loss (Yang et al., CVPR
    2022): every pair of the same label is a positive, and the target of a
    row is uniform over its positives, ``L_i2t = -mean_i 1/|P(i)| sum_{k in
    P(i)} log softmax_k(s f_i G^T)`` (``L_t2i`` alike over the images), the
    loss ``(L_i2t + L_t2i) / 2``: UniCL's ``L_BiC`` halved, as CLIP's is.
    With a distinct label per pair it is the loss above.

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

    def forward(self,
                image_feats: torch.Tensor,
                text_feats: torch.Tensor,
                labels: Optional[torch.Tensor] = None
                ) -> Dict[str, torch.Tensor]:
        """Compute the loss.

        Args:
            image_feats (Tensor): ``(n, D)`` this rank's image features.
            text_feats (Tensor): ``(n, D)`` the paired text features.
            labels (Tensor, optional): ``(n, )`` label of each pair; pairs
                of one label are positives (UniCL). None: only the pair
                itself (CLIP).

        Returns:
            dict: ``loss_itc`` (weighted) and ``itc_scale`` (for logging).
        """
        image_feats = F.normalize(image_feats, dim=-1)
        text_feats = F.normalize(text_feats, dim=-1)
        all_images = all_gather_with_grad(image_feats)
        all_texts = all_gather_with_grad(text_feats)
        mine, everyone = pair_labels(image_feats.shape[0], labels,
                                     image_feats.device)
        if labels is None:
            target = mine  # class indices: CLIP's exact computation
        else:
            same = (mine[:, None] == everyone[None, :]).to(image_feats.dtype)
            target = same / same.sum(1, keepdim=True)
        scale = self.scale
        logits_per_image = scale * image_feats @ all_texts.t()
        logits_per_text = scale * text_feats @ all_images.t()
        loss = (F.cross_entropy(logits_per_image, target) +
                F.cross_entropy(logits_per_text, target)) / 2
        return dict(
            loss_itc=self.loss_weight * loss, itc_scale=scale.detach())
