"""Named tensors of a Hugging Face checkpoint, without building its model.

For the pieces of a dual-encoder checkpoint that live outside the tower a
module builds: CLIP's ``text_projection``, ``visual_projection`` and
``logit_scale`` sit next to ``text_model.*`` / ``vision_model.*`` in one
``CLIPModel`` file.
"""
import json
import os.path as osp
from typing import Dict, Optional, Sequence

import torch

from icar_mm.utils.pretrained import resolve_pretrained

#: weight files of ``save_pretrained``, in transformers' order of preference
WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json',
                'pytorch_model.bin', 'pytorch_model.bin.index.json')


def _file(pretrained: str, name: str) -> Optional[str]:
    """``name`` in a local model directory or a hub repository (cached)."""
    if osp.isdir(pretrained):
        path = osp.join(pretrained, name)
        return path if osp.isfile(path) else None
    if pretrained.startswith(('/', '.', '~')):
        raise FileNotFoundError(f'Model directory {pretrained!r} does not '
                                'exist.')
    from huggingface_hub import hf_hub_download
    try:
        return hf_hub_download(pretrained, name)
    except (OSError, ValueError):  # not there, offline, not a repo id
        return None


def _load(path: str, names: Sequence[str]) -> Dict[str, torch.Tensor]:
    if path.endswith('.safetensors'):
        from safetensors import safe_open
        with safe_open(path, framework='pt') as f:
            present = set(f.keys())
            return {n: f.get_tensor(n) for n in names if n in present}
    state = torch.load(path, map_location='cpu', weights_only=True)
    return {n: state[n] for n in names if n in state}


def read_hf_tensors(pretrained: str,
                    names: Sequence[str]) -> Dict[str, torch.Tensor]:
    """The tensors ``names`` of a ``save_pretrained`` checkpoint.

    Args:
        pretrained (str): A model directory, a hub id (cached or online) or
            ``'package:NAME'``.
        names (Sequence[str]): Parameter names as saved (e.g.
            ``'text_projection.weight'``).

    Returns:
        dict: The names found (absent ones are left out).

    Raises:
        FileNotFoundError: No weight file in ``pretrained``.
    """
    pretrained = osp.expanduser(resolve_pretrained(pretrained))
    for weights in WEIGHT_FILES:
        path = _file(pretrained, weights)
        if path is None:
            continue
        if not weights.endswith('.index.json'):
            return _load(path, names)
        with open(path, encoding='utf-8') as f:
            weight_map = json.load(f)['weight_map']
        out = {}
        for shard in sorted({weight_map[n] for n in names
                             if n in weight_map}):
            shard_path = _file(pretrained, shard)
            if shard_path is None:
                raise FileNotFoundError(f'{pretrained}: shard {shard!r} of '
                                        f'{weights} is missing.')
            out.update(_load(shard_path, names))
        return out
    raise FileNotFoundError(f'{pretrained!r} has none of the weight files '
                            f'{WEIGHT_FILES}.')
