"""The stack fixes applied on `import icar_mm`."""
import os
import subprocess
import sys

import numpy as np
import torch

import icar_mm  # noqa: F401

from repo_paths import REPO_ROOT as REPO  # noqa: E402


def test_core_import_leaves_the_downstream_hosts_alone():
    code = ('import sys, icar_mm; import mmpretrain.models; '
            'hosts = [m for m in sys.modules if m.split(".")[0] in '
            '("mmdet", "mmseg", "mmaction")]; '
            'print(hosts); assert not hosts, hosts; '
            'from icar_mm.registry import MODELS; '
            'assert MODELS.get("ICAR") and MODELS.get("TextMetaClsHead")')
    proc = subprocess.run([sys.executable, '-c', code],
                          env=dict(os.environ, PYTHONPATH=REPO),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


def test_mmdet_still_imports_after_the_core():
    import mmdet.models  # noqa: F401
    from mmdet.registry import MODELS
    assert MODELS.get('FasterRCNN') is not None


def test_torchvision_nms_op_matches_mmcv():
    """The CPU stand-in for torchvision's compiled nms (what lets
    ``import torchvision`` succeed) gives mmcv's results."""
    import torchvision  # noqa: F401
    from mmcv.ops import nms as mmcv_nms
    nms = torch.ops.torchvision.nms
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=g) * 100
    wh = torch.rand(200, 2, generator=g) * 30 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(200, generator=g)
    for iou in (0.3, 0.5, 0.7):
        keep = nms(boxes, scores, iou)
        _, ref = mmcv_nms(boxes, scores, iou)
        assert keep.tolist() == ref.tolist()
    assert nms(boxes[:0], scores[:0], 0.5).numel() == 0


def test_numpy_aliases_restored():
    assert np.Inf == np.inf
    assert np.in1d is np.isin or np.in1d([1, 2], [2]).tolist() == [False,
                                                                   True]
    assert np.trapz([0, 1, 2]) == 2.0
