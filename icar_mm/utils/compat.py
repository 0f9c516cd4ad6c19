"""Fixes for known incompatibilities of the pinned OpenMMLab stack.

Each fix is applied once, when :mod:`icar_mm` is imported, and is a no-op
where the problem does not exist (for example a CUDA build of torchvision
whose compiled ops load, or numpy 1.x which still has ``np.float``).

The fixes (see ``STACK.md`` of the team):

* torchvision's compiled ops cannot load against a CPU-only torch; its
  ``_meta_registrations`` then fails on the unregistered ``torchvision::nms``
  op. We define the ``nms``/``qnms`` schemas with a pure-torch CPU kernel.
* mmpretrain 1.2 / mmaction2 1.2 switch on multimodal models that import
  names removed from transformers>=4.50; we switch them off.
* the mmaction2 1.2.0 wheel lacks ``mmaction.models.localizers.drn``; a
  placeholder module stands in for it.
* numpy 2 removed aliases (``np.Inf``, ``np.float``, ``np.in1d``,
  ``np.trapz``...) that mmcv/mmdet/mmaction metrics still use.
* torch>=2.6 loads checkpoints with ``weights_only=True``; see
  :mod:`icar_mm.utils.checkpoint_safety` for the allow-list (no global
  bypass).
"""
import importlib.util
import sys
import types

import numpy as np
import torch

_APPLIED = False


def _torchvision_ops_load() -> bool:
    """Whether torchvision's compiled ``_C`` extension loads."""
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: nothing to fix
    if 'torchvision' in sys.modules:
        return True  # already imported (successfully or by the user)
    import glob
    import os
    libs = []
    for loc in spec.submodule_search_locations:
        libs += glob.glob(os.path.join(loc, '_C*.so'))
        libs += glob.glob(os.path.join(loc, '_C*.pyd'))
    if not libs:
        return False
    try:
        torch.ops.load_library(libs[0])
        return True
    except (OSError, ImportError, RuntimeError):
        return False


def _nms_kernel(dets: torch.Tensor, scores: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """Greedy NMS in pure torch (the semantics of ``torchvision.ops.nms``)."""
    if dets.numel() == 0:
        return torch.empty((0, ), dtype=torch.long, device=dets.device)
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool,
                             device=dets.device)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        xx1 = torch.maximum(x1[i], x1)
        yy1 = torch.maximum(y1[i], y1)
        xx2 = torch.minimum(x2[i], x2)
        yy2 = torch.minimum(y2[i], y2)
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[i] + areas - inter)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def _register_torchvision_cpu_ops() -> None:
    """Define ``torchvision::nms``/``qnms`` when torchvision's ops can't load."""
    if _torchvision_ops_load():
        return
    lib = torch.library.Library('torchvision', 'DEF')  # noqa: F841
    lib.define('nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    lib.define('qnms(Tensor dets, Tensor scores, float iou_threshold) '
               '-> Tensor')
    lib.impl('nms', _nms_kernel, 'CPU')
    # keep the library object alive: dropping it removes the definitions
    _register_torchvision_cpu_ops.library = lib


def _disable_multimodal(package: str) -> None:
    """Switch off a host's multimodal models (they break on transformers>=4.50).

    Args:
        package (str): ``'mmpretrain'`` or ``'mmaction'``.
    """
    if importlib.util.find_spec(package) is None:
        return
    module = importlib.import_module(f'{package}.utils.dependency')
    module.WITH_MULTIMODAL = False


def _placeholder_missing_mmaction_modules() -> None:
    """Stand in for ``mmaction.models.localizers.drn`` missing from the wheel."""
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return
    import os
    root = spec.submodule_search_locations[0]
    name = 'mmaction.models.localizers.drn'
    if os.path.isdir(os.path.join(root, 'models', 'localizers', 'drn')):
        return
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__doc__ = 'Placeholder: missing from the mmaction2 1.2.0 wheel.'
        # a package: mmaction does `from .drn.drn import DRN`
        module.__path__ = []
        sub = types.ModuleType(name + '.drn')
        sub.DRN = None
        module.drn = sub
        module.DRN = None
        sys.modules[name] = module
        sys.modules[name + '.drn'] = sub


_NUMPY_ALIASES = {
    'Inf': lambda: np.inf,
    'NaN': lambda: np.nan,
    'float': lambda: float,
    'int': lambda: int,
    'bool': lambda: bool,
    'object': lambda: object,
    'long': lambda: int,
    'in1d': lambda: np.isin,
    'trapz': lambda: np.trapezoid,
    'product': lambda: np.prod,
    'cumproduct': lambda: np.cumprod,
    'alltrue': lambda: np.all,
    'sometrue': lambda: np.any,
}


def _restore_numpy_aliases() -> None:
    """Restore aliases removed in numpy 2 that host libraries still use."""
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:
            try:
                setattr(np, name, value())
            except AttributeError:
                pass


def _import_mmpretrain_models_without_mmdet() -> None:
    """Import ``mmpretrain.models`` without its optional mmdet import.

    ``mmpretrain.models.utils.res_layer_extra_norm`` imports mmdet whenever it
    is installed (to register ``ResLayerExtraNorm`` into mmdet's registry), so
    the core would pull in all of mmdet (2-3 s, and a host the user may not
    want). We hide mmdet during that one import; the registration it skips
    only matters to mmdet configs of mmpretrain's self-supervised benchmarks.
    """
    if 'mmdet' in sys.modules or 'mmpretrain.models' in sys.modules:
        importlib.import_module('mmpretrain.models')
        return
    blocked = ('mmdet', 'mmdet.models', 'mmdet.models.backbones')
    saved = {name: sys.modules.get(name) for name in blocked}
    try:
        for name in blocked:
            sys.modules[name] = None  # makes `import name` raise ImportError
        importlib.import_module('mmpretrain.models')
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _flexible_runner_accepts_any_loader() -> None:
    """Let ``FlexibleRunner`` (FSDP, DeepSpeed) train a custom loader.

    ``FlexibleRunner.train`` asks ``_get_batch_size`` for the per-device
    batch size (DeepSpeed's ``train_micro_batch_size_per_gpu``), which only
    accepts a ``DataLoader`` or a dict. The two-stream loader has a
    ``batch_size`` of its own; this reads it and leaves every other case to
    mmengine.
    """
    from mmengine.runner import _flexible_runner
    original = _flexible_runner._get_batch_size
    if getattr(original, '_icar_mm', False):
        return

    def _get_batch_size(dataloader):
        from torch.utils.data import DataLoader
        if not isinstance(dataloader, (dict, DataLoader)) and isinstance(
                getattr(dataloader, 'batch_size', None), int):
            return dataloader.batch_size
        return original(dataloader)

    _get_batch_size._icar_mm = True
    _flexible_runner._get_batch_size = _get_batch_size


def apply_compat() -> None:
    """Apply the core fixes once; safe to call repeatedly.

    Imports mmpretrain (the core's host) but never mmdet, mmseg or mmaction2.
    """
    global _APPLIED
    if _APPLIED:
        return
    _restore_numpy_aliases()
    _register_torchvision_cpu_ops()
    _disable_multimodal('mmpretrain')
    _import_mmpretrain_models_without_mmdet()
    _flexible_runner_accepts_any_loader()
    from .checkpoint_safety import allow_trusted_checkpoint_globals
    allow_trusted_checkpoint_globals()
    _APPLIED = True


def apply_mmaction_compat() -> None:
    """Fixes needed before ``mmaction.models`` is imported (action adapter)."""
    apply_compat()
    _disable_multimodal('mmaction')
    _placeholder_missing_mmaction_modules()
