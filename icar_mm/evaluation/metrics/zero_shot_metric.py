"""A zero-shot classification metric for any ``val_evaluator``."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from icar_mm.registry import METRICS
from ..functional import PROTOCOL_METRICS, classification_metrics


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x)


def multilabel_targets(labels, difficult, num_classes: int) -> np.ndarray:
    """``(C,)`` targets: 1 for labels, -1 for difficult-only labels, else 0.

    VOC 2007: a class present only as "difficult" objects is ignored for
    that image (the devkit neither rewards nor penalises it).
    """
    target = np.zeros(num_classes, dtype=np.int64)
    for c in _np(difficult if difficult is not None else []).astype(int):
        target[c] = -1
    for c in _np(labels).astype(int).reshape(-1):
        if target[c] != -1:
            target[c] = 1
    return target


@METRICS.register_module()
class ZeroShotMetric(BaseMetric):
    """Classification metrics of the zero-shot protocols (CLIP, Kornblith).

    Works on the predictions of :class:`ICAR` (``pred_score``, and
    ``pred_logits`` when the model provides them) after ``ValLoop``,
    ``ZeroShotValLoop`` or ``TestLoop``. Reports ``top1``/``top5`` and
    ``mean_per_class`` for single-label datasets, ``map11`` (11-point mAP,
    difficult labels ignored, ranked by logits) for multi-label ones, and
    ``score``: the metric of ``protocol``.

    Args:
        protocol (str): The dataset's headline metric: ``'top1'``,
            ``'mean_per_class'`` or ``'map11'``. Defaults to ``'top1'``.
        topk (Sequence[int]): Top-k accuracies. Defaults to ``(1, 5)``.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'zero-shot'``.

    Example::

        val_evaluator = dict(type='ZeroShotMetric', protocol='mean_per_class')
    """
    default_prefix: Optional[str] = 'zero-shot'

    def __init__(self,
                 protocol: str = 'top1',
                 topk: Sequence[int] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if protocol not in PROTOCOL_METRICS:
            raise ValueError(f'Unknown protocol {protocol!r}; choose from '
                             f'{PROTOCOL_METRICS}.')
        self.protocol = protocol
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            score = sample.get('pred_logits', None)
            if score is None:
                score = sample['pred_score']
            score = _np(score)
            if self.protocol == 'map11':
                target = multilabel_targets(
                    sample['gt_label'], sample.get('gt_label_difficult'),
                    score.shape[-1])
            else:
                target = int(_np(sample['gt_label']).reshape(-1)[0])
            self.results.append((score, target))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = np.stack([r[0] for r in results])
        targets = np.stack([np.asarray(r[1]) for r in results])
        metrics = classification_metrics(scores, targets, self.topk)
        metrics['score'] = metrics[self.protocol]
        return metrics
