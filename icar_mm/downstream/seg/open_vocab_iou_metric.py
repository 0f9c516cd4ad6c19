"""IoU metric with base / novel class groups (open-vocabulary segmentation)."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS as SEG_METRICS


@SEG_METRICS.register_module()
class OpenVocabIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` plus mIoU over base and over novel classes.

    Adds ``mIoU_base``, ``mIoU_novel`` and their harmonic mean ``hIoU`` (the
    usual generalised zero-shot summary). Classes listed in neither group
    (e.g. ``background``) are reported as ``IoU_<name>``. Classes absent from
    both ground truth and prediction (NaN IoU) are left out of the means; so
    are listed classes the dataset's vocabulary lacks (a group with none is
    not reported), so one metric config serves base-only, novel-only and
    base + novel test vocabularies.

    Args:
        novel_classes (Sequence[str]): Names of the classes not trained on.
        base_classes (Sequence[str], optional): Names of the training
            classes; defaults to every class of the dataset that is neither
            novel nor in ``other_classes``.
        other_classes (Sequence[str]): Classes reported on their own.
            Defaults to ``('background', )``.
        **kwargs: ``IoUMetric`` arguments.
    """

    def __init__(self,
                 novel_classes: Sequence[str],
                 base_classes: Optional[Sequence[str]] = None,
                 other_classes: Sequence[str] = ('background', ),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.novel_classes = list(novel_classes)
        self.base_classes = None if base_classes is None else list(
            base_classes)
        self.other_classes = list(other_classes)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        columns = tuple(zip(*results))
        intersect, union = sum(columns[0]), sum(columns[1])
        iou = (intersect / union).cpu().numpy()  # NaN where union is 0
        names = list(self.dataset_meta['classes'])
        novel = [names.index(c) for c in self.novel_classes if c in names]
        other = [names.index(c) for c in self.other_classes if c in names]
        if self.base_classes is None:
            base = [i for i in range(len(names)) if i not in novel + other]
        else:
            base = [names.index(c) for c in self.base_classes if c in names]

        def mean(ids):
            vals = iou[ids]
            vals = vals[~np.isnan(vals)]
            return float(np.round(vals.mean() * 100, 2)) if len(vals) else \
                float('nan')

        for group, ids in (('base', base), ('novel', novel)):
            if ids:
                metrics[f'mIoU_{group}'] = mean(ids)
        if base and novel:
            b, n = metrics['mIoU_base'], metrics['mIoU_novel']
            metrics['hIoU'] = round(2 * b * n / (b + n), 2) if b + n else 0.
        for i in other:
            metrics[f'IoU_{names[i]}'] = mean([i])
        return metrics
