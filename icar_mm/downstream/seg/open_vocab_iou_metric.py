"""IoU metric with base / novel class groups (open-vocabulary segmentation)."""
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS as SEG_METRICS

from icar_mm.class_texts import build_class_text_bank


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
        novel_classes (Sequence[str], optional): Names of the classes not
            trained on; None: every dataset class that is neither base nor
            in ``other_classes`` (needs ``base_classes``).
        base_classes (Sequence[str] | dict, optional): Names of the training
            classes, or a class-text bank config of them (e.g. the training
            dataset's: ``dict(source=dict(type='mmseg_dataset_classes',
            dataset='ADE20KDataset'))``; names match exactly); None: every
            dataset class that is neither novel nor in ``other_classes``.
        other_classes (Sequence[str]): Classes reported on their own.
            Defaults to ``('background', )``.
        **kwargs: ``IoUMetric`` arguments.
    """

    def __init__(self,
                 novel_classes: Optional[Sequence[str]] = None,
                 base_classes: Union[Sequence[str], Dict, None] = None,
                 other_classes: Sequence[str] = ('background', ),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if novel_classes is None and base_classes is None:
            raise ValueError('OpenVocabIoUMetric needs novel_classes or '
                             'base_classes.')
        if isinstance(base_classes, dict):
            base_classes = build_class_text_bank(
                dict(base_classes, use_descriptions=False)).names
        self.novel_classes = novel_classes and list(novel_classes)
        self.base_classes = base_classes and list(base_classes)
        self.other_classes = list(other_classes)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        columns = tuple(zip(*results))
        intersect, union = sum(columns[0]), sum(columns[1])
        iou = (intersect / union).cpu().numpy()  # NaN where union is 0
        names = list(self.dataset_meta['classes'])

        def indices(classes):
            return [names.index(c) for c in classes if c in names]

        def rest(*groups):
            return [i for i in range(len(names)) if not any(
                i in g for g in groups)]

        other = indices(self.other_classes)
        novel = indices(self.novel_classes or [])
        base = indices(self.base_classes or [])
        if self.novel_classes is None:
            novel = rest(base, other)
        elif self.base_classes is None:
            base = rest(novel, other)

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
