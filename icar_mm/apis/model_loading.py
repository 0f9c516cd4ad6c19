"""Build an icar_mm model from a config and a checkpoint."""
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from icar_mm.registry import MODELS


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """The config's model with the checkpoint's weights, in eval mode.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): A checkpoint file (mmengine format, or a
            plain state dict).
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False,
                        logger='current')
    model.cfg = cfg
    return model.to(device).eval()
