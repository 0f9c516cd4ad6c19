"""CLIP's image tower (transformers' ``CLIPVisionModel``) as a backbone."""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from icar_mm.models.utils.layer_groups import transformer_layer_groups
from icar_mm.registry import MODELS
from icar_mm.utils.pretrained import resolve_pretrained

#: CLIP's image normalisation on 0-255 pixels (RGB), for the data
#: preprocessor's ``mean`` / ``std`` (with ``to_rgb=True`` for BGR loading)
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 69.933]


@MODELS.register_module()
class HFCLIPVisionBackbone(BaseModule):
    """The image tower of a Hugging Face CLIP checkpoint.

    Returns ``(pooled, )``: the class token after the last layer and
    CLIP's ``post_layernorm`` (``CLIPVisionModel``'s ``pooler_output``),
    ``(N, hidden_size)``; use it with ``neck=None`` and
    ``feat_channels=hidden_size``. CLIP's ``visual_projection`` (not part of
    the tower) becomes ICAR's ``visual_proj`` with ``ICAR(
    init_from_clip=DIR)``; then ``embed_images`` equals
    ``CLIPModel.get_image_features`` normalised. Inputs are normalised with
    CLIP's mean and std (:data:`CLIP_MEAN`, :data:`CLIP_STD`).

    Args:
        pretrained (str, optional): A ``CLIPModel`` (or
            ``CLIPVisionModel``) directory, a hub id or ``'package:NAME'``.
            Mutually exclusive with ``config``.
        config (dict, optional): A ``CLIPVisionConfig`` as keyword
            arguments, for a randomly initialised tower.
        attn_implementation (str): ``'sdpa'`` or ``'eager'``.
            Defaults to ``'sdpa'``.
        gradient_checkpointing (bool): Recompute activations in backward.
            Defaults to False.
        frozen (bool): Freeze the whole tower. Defaults to False.
        interpolate_pos_encoding (bool): Interpolate the position
            embeddings for images of another size than the checkpoint's.
            Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Optional[Dict] = None,
                 attn_implementation: str = 'sdpa',
                 gradient_checkpointing: bool = False,
                 frozen: bool = False,
                 interpolate_pos_encoding: bool = False,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (pretrained is None) == (config is None):
            raise ValueError('HFCLIPVisionBackbone needs exactly one of '
                             '`pretrained` (a CLIP directory) or `config`; '
                             f'got pretrained={pretrained!r}, '
                             f'config={config!r}.')
        self.model = self._build(pretrained, config, attn_implementation)
        self.interpolate_pos_encoding = interpolate_pos_encoding
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={'use_reentrant': False})
        if frozen:
            self.model.requires_grad_(False)

    @staticmethod
    def _build(pretrained: Optional[str], config: Optional[Dict],
               attn: str) -> nn.Module:
        from transformers import AutoModel, CLIPVisionConfig, CLIPVisionModel
        if config is not None:
            return AutoModel.from_config(CLIPVisionConfig(**config),
                                         attn_implementation=attn)
        path = osp.expanduser(resolve_pretrained(pretrained))
        if path.startswith(('/', '.', '~')) and not osp.isdir(path):
            raise FileNotFoundError(
                f'CLIP directory {path!r} does not exist (a CLIPModel saved '
                'with save_pretrained; an OpenCLIP checkpoint is converted '
                'to one by tools/model_converters/openclip_to_hf_clip.py).')
        return CLIPVisionModel.from_pretrained(path,
                                               attn_implementation=attn)

    @property
    def out_channels(self) -> int:
        """Channels of the pooled feature (``hidden_size``)."""
        return self.model.config.hidden_size

    def layer_groups(self) -> List[List[str]]:
        """Parameter names bottom to top: the patch and position embeddings
        with ``pre_layrnorm``, each encoder layer (the last with
        ``post_layernorm``), as OpenCLIP's ``VisionTransformer.lock``."""
        vision = self.model.vision_model
        groups = transformer_layer_groups(vision, vision.embeddings,
                                          vision.encoder.layers)
        # pre_layrnorm sits between the embeddings and the first layer
        top = groups[-1]
        pre = [n for n in top if n.startswith('pre_layrnorm.')]
        groups[0] += pre
        groups[-1] = [n for n in top if n not in pre]
        return [['model.vision_model.' + n for n in g] for g in groups]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """``(N, 3, H, W)`` normalised images -> ``((N, hidden_size), )``."""
        out = self.model(
            pixel_values=x,
            interpolate_pos_encoding=self.interpolate_pos_encoding)
        return (out.pooler_output, )
