"""Bottom-to-top layer groups of the two towers, for locking and LLRD.

A tower is split, bottom to top, into groups of parameter names in the
manner of OpenCLIP's ``lock_image`` / ``lock_text``: the image tower into
its stem (embeddings), its stages or blocks and finally the visual
projection; the text tower into its embeddings, its transformer layers (the
last together with the final norm) and finally the projection. The same
groups give

* locking: :func:`lock_top_unlocked`, OpenCLIP's
  ``--lock-image-unlocked-groups`` / ``--lock-text-unlocked-layers``
  (``ICAR(lock_image_unlocked_groups=N, lock_text_unlocked_layers=N)``);
* layer depths for mmpretrain's ``LearningRateDecayOptimWrapperConstructor``
  (``ICAR.get_layer_depth``), the top group at the base learning rate.
"""
from collections import defaultdict
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import MMLogger

#: A tower's parameter names (full names in the model), bottom to top.
LayerGroups = List[List[str]]


def _names(module: nn.Module, prefix: str) -> List[str]:
    return [prefix + n for n, _ in module.named_parameters()]


def backbone_layer_groups(backbone: nn.Module,
                          prefix: str = 'backbone.') -> LayerGroups:
    """Layer groups of an image backbone, bottom to top.

    * a backbone with ``layer_groups()`` (``HFCLIPVisionBackbone``): its own;
    * an mmpretrain ResNet (``res_layers``): the stem, then each stage
      (OpenCLIP's ``ModifiedResNet.lock`` groups);
    * another mmpretrain backbone with ``get_layer_depth`` (ViT, Swin,
      ConvNeXt, ...): one group per depth it reports.

    Args:
        backbone (nn.Module): The backbone.
        prefix (str): Its name in the model, with the dot.

    Returns:
        LayerGroups: Groups of full parameter names.
    """
    if hasattr(backbone, 'layer_groups'):
        return [[prefix + n for n in g] for g in backbone.layer_groups()]
    if hasattr(backbone, 'res_layers'):
        stages = [getattr(backbone, n) for n in backbone.res_layers]
        in_stage = {id(p) for s in stages for p in s.parameters()}
        stem = [
            prefix + n for n, p in backbone.named_parameters()
            if id(p) not in in_stage
        ]
        return [stem] + [
            _names(s, f'{prefix}{n}.')
            for n, s in zip(backbone.res_layers, stages)
        ]
    if hasattr(backbone, 'get_layer_depth'):
        by_depth: Dict[int, List[str]] = defaultdict(list)
        for name, _ in backbone.named_parameters():
            depth, _ = backbone.get_layer_depth(name)
            by_depth[depth].append(prefix + name)
        return [by_depth[d] for d in sorted(by_depth)]
    raise ValueError(
        f'Cannot split the backbone {type(backbone).__name__} into layer '
        'groups (for lock_image_unlocked_groups or layer-wise lr decay): it '
        'has neither `get_layer_depth` (mmpretrain ViT, Swin, ConvNeXt) nor '
        '`res_layers` (mmpretrain ResNet). Use one of those backbones or '
        'HFCLIPVisionBackbone, or freeze with the backbone\'s own '
        '`frozen_stages`.')


def transformer_layer_groups(model: nn.Module, embeddings: Optional[
        nn.Module], layers: nn.ModuleList) -> LayerGroups:
    """Groups of a transformer: embeddings, layers, the last with the rest.

    Parameter names are relative to ``model``; every parameter outside the
    embeddings and the layers (final layer norm, pooler) joins the last
    layer's group, as OpenCLIP groups ``ln_final`` with the last block.

    Args:
        model (nn.Module): The transformer.
        embeddings (nn.Module, optional): Its embeddings module.
        layers (nn.ModuleList): Its transformer layers.

    Returns:
        LayerGroups: Groups of names relative to ``model``.
    """
    owner = {}
    groups: LayerGroups = []
    for module in ([embeddings] if embeddings is not None else []) + list(
            layers):
        groups.append([])
        for p in module.parameters():
            owner[id(p)] = len(groups) - 1
    for name, p in model.named_parameters():
        groups[owner.get(id(p), len(groups) - 1)].append(name)
    return [g for g in groups if g]


def check_partition(module: nn.Module, groups: LayerGroups,
                    prefix: str) -> None:
    """Every parameter of ``module`` is in exactly one group."""
    expected = set(_names(module, prefix))
    flat = [n for g in groups for n in g]
    if len(flat) != len(set(flat)) or set(flat) != expected:
        raise RuntimeError(
            f'layer groups of {prefix.rstrip(".")} do not partition its '
            f'parameters (missing {sorted(expected - set(flat))[:5]}, extra '
            f'{sorted(set(flat) - expected)[:5]}).')


def lock_top_unlocked(model: nn.Module, groups: LayerGroups, unlocked: int,
                      tower: str) -> None:
    """Freeze every group but the top ``unlocked`` ones (OpenCLIP's lock).

    Args:
        model (nn.Module): The model the names refer to.
        groups (LayerGroups): The tower's groups, bottom to top.
        unlocked (int): Groups left trainable at the top; 0 freezes the
            whole tower.
        tower (str): ``'image'`` / ``'text'``, for messages.
    """
    if not 0 <= unlocked <= len(groups):
        raise ValueError(
            f'{tower} tower: {unlocked} unlocked groups requested, but it '
            f'has {len(groups)} (0 locks all of it; {len(groups)} none).')
    params = dict(model.named_parameters())
    frozen = [n for g in groups[:len(groups) - unlocked] for n in g]
    for name in frozen:
        params[name].requires_grad_(False)
    numel = sum(params[n].numel() for n in frozen)
    MMLogger.get_current_instance().info(
        f'Locked the {tower} tower: {len(groups) - unlocked} of '
        f'{len(groups)} layer groups frozen ({numel:,} parameters), the top '
        f'{unlocked} trainable.')
