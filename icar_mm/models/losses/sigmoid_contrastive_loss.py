"""SigLIP's pairwise sigmoid loss, correct across ranks."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from icar_mm.registry import MODELS
from ..utils.distributed import all_gather_with_grad
from .contrastive_loss import ContrastiveLoss, pair_labels


@MODELS.register_module()
class SigmoidContrastiveLoss(ContrastiveLoss):
    """Image-text sigmoid loss of SigLIP (Zhai et al., ICCV 2023).

    A :class:`ContrastiveLoss` (same scale, clamp and weight) with a learned
    bias and the sigmoid in place of the softmax.

    ``L = -1/n sum_ij log sigmoid(z_ij (s <f_i, g_j> + b))`` over normalised
    image features ``f`` and text features ``g``, with ``z_ij = 1`` for a
    matching pair and ``-1`` otherwise: every pair is an independent binary
    problem, so no softmax normalises over the batch. The scale ``s`` and
    bias ``b`` are learned (SigLIP starts at ``s = 10``, ``b = -10``).

    Across ranks this rank's images meet the gathered texts of all ranks
    (their backward reaches the other ranks' text encoders) and the sum is
    divided by the local batch size, which is OpenCLIP's ``SigLipLoss``
    per rank; under DDP (gradients averaged) the update equals the
    single-process loss on the global batch.

    With ``labels`` (:class:`ICAR`'s ``unified_contrastive``) every pair of
    the same label is a positive (``z_ij = 1``), as in UniCL's targets.

    Args:
        init_temperature (float): Initial temperature; the scale starts at
            ``1 / init_temperature``. Defaults to 0.1 (SigLIP's 10).
        init_bias (float): Initial bias ``b``. Defaults to -10.
        max_scale (float): Clamp of the scale. Defaults to 100.
        learnable (bool): Learn the scale and the bias. Defaults to True.
        loss_weight (float): Weight ``lambda`` of the loss. Defaults to 1.
    """

    def __init__(self,
                 init_temperature: float = 0.1,
                 init_bias: float = -10.,
                 max_scale: float = 100.,
                 learnable: bool = True,
                 loss_weight: float = 1.) -> None:
        super().__init__(init_temperature, max_scale, learnable, loss_weight)
        bias = torch.tensor(float(init_bias))
        if learnable:
            self.bias = nn.Parameter(bias)
        else:
            self.register_buffer('bias', bias)

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
                of one label are positives. None: only the pair itself.

        Returns:
            dict: ``loss_itc`` (weighted), ``itc_scale`` and ``itc_bias``
            (for logging).
        """
        image_feats = F.normalize(image_feats, dim=-1)
        text_feats = F.normalize(text_feats, dim=-1)
        all_texts = all_gather_with_grad(text_feats)
        mine, everyone = pair_labels(image_feats.shape[0], labels,
                                     image_feats.device)
        sign = 2. * (mine[:, None] == everyone[None, :]).to(
            image_feats.dtype) - 1.
        scale = self.scale
        logits = scale * image_feats @ all_texts.t() + self.bias
        loss = -F.logsigmoid(sign * logits).sum() / image_feats.shape[0]
        return dict(
            loss_itc=self.loss_weight * loss,
            itc_scale=scale.detach(),
            itc_bias=self.bias.detach().clone())
