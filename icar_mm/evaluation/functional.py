"""Metrics of the zero-shot, linear-probe and retrieval protocols (numpy).

* ``top1`` / :func:`topk_accuracy`: Food-101, CIFAR-10/100, Birdsnap,
  SUN397, Stanford Cars, DTD, ImageNet.
* :func:`mean_per_class_accuracy`: FGVC Aircraft, Oxford-IIIT Pets,
  Caltech-101, Oxford Flowers-102 (the mean of the per-class recalls, as
  scikit-learn's ``balanced_accuracy_score``).
* :func:`voc11_mean_average_precision`: PASCAL VOC 2007 (multi-label):
  the VOC 2007 devkit's 11-point interpolated AP per class, averaged over
  the classes; "difficult" labels are ignored (neither positive nor
  negative) for their class, as in the devkit.
* :func:`retrieval_recall`: image-to-text and text-to-image R@K.

All percentages (0-100).
"""
from typing import Dict, Optional, Sequence

import numpy as np

#: the metric each protocol reports, by name
PROTOCOL_METRICS = ('top1', 'mean_per_class', 'map11')


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Percentage of samples whose label is among the ``k`` best scores."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    return 100. * float((top == labels[:, None]).any(1).mean())


def mean_per_class_accuracy(preds: np.ndarray,
                            labels: np.ndarray,
                            num_classes: Optional[int] = None) -> float:
    """Mean over the classes present in ``labels`` of the per-class recall.

    Classes absent from ``labels`` are left out (scikit-learn's
    ``balanced_accuracy_score`` does the same).
    """
    preds, labels = np.asarray(preds), np.asarray(labels)
    classes = np.unique(labels)
    recalls = [(preds[labels == c] == c).mean() for c in classes]
    return 100. * float(np.mean(recalls))


def voc11_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """11-point interpolated AP of one class (VOC 2007 devkit).

    Args:
        scores (np.ndarray): ``(N,)`` scores of the class.
        targets (np.ndarray): ``(N,)``: 1 positive, 0 negative, -1 ignored
            ("difficult").

    Returns:
        float: AP in percent: the mean over recall thresholds
        ``t = 0, 0.1, ..., 1`` of the highest precision at a recall >= t
        (0 where that recall is never reached). NaN without positives.
    """
    scores, targets = np.asarray(scores, float), np.asarray(targets)
    keep = targets >= 0
    scores, targets = scores[keep], targets[keep]
    num_pos = int((targets == 1).sum())
    if num_pos == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    tp = (targets[order] == 1).astype(float)
    tp_cum, fp_cum = np.cumsum(tp), np.cumsum(1 - tp)
    recall = tp_cum / num_pos
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(float).eps)
    ap = 0.
    # thresholds exactly as the devkit / py-faster-rcnn's voc_eval compute
    # them (np.arange, no tolerance: 0.1 * 3 > 0.3 in floating point)
    for t in np.arange(0., 1.1, 0.1):
        reached = recall >= t
        ap += (precision[reached].max() if reached.any() else 0.) / 11.
    return 100. * float(ap)


def voc11_mean_average_precision(scores: np.ndarray,
                                 targets: np.ndarray) -> float:
    """Mean over classes (with positives) of :func:`voc11_average_precision`.

    Args:
        scores (np.ndarray): ``(N, C)`` scores (logits, not softmax: the
            ranking of images per class must not depend on the other
            classes' scores).
        targets (np.ndarray): ``(N, C)`` in {1, 0, -1}.
    """
    aps = [
        voc11_average_precision(scores[:, c], targets[:, c])
        for c in range(scores.shape[1])
    ]
    return float(np.nanmean(aps))


def classification_metrics(scores: np.ndarray,
                           targets: np.ndarray,
                           topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Every metric that applies to ``targets``.

    Args:
        scores (np.ndarray): ``(N, C)`` scores.
        targets (np.ndarray): ``(N,)`` labels (single-label) or ``(N, C)``
            in {1, 0, -1} (multi-label).

    Returns:
        dict: ``top{k}`` and ``mean_per_class`` (single-label), or ``map11``
        (multi-label).
    """
    scores, targets = np.asarray(scores), np.asarray(targets)
    if targets.ndim == 2:
        return dict(map11=voc11_mean_average_precision(scores, targets))
    out = {
        f'top{k}': topk_accuracy(scores, targets, k)
        for k in topk if k <= scores.shape[1]
    }
    out['mean_per_class'] = mean_per_class_accuracy(
        scores.argmax(1), targets, scores.shape[1])
    return out


def retrieval_recall(similarity: np.ndarray,
                     text_to_image: Sequence[int],
                     ks: Sequence[int] = (1, 5, 10)) -> Dict[str, float]:
    """Image-text retrieval recall (COCO / Flickr30K Karpathy protocol).

    Args:
        similarity (np.ndarray): ``(num_images, num_texts)`` scores.
        text_to_image (Sequence[int]): The image of each text (an image has
            several captions, e.g. 5).
        ks (Sequence[int]): The K of R@K.

    Returns:
        dict: ``i2t_R@K`` (an image is a hit when any of its captions is in
        its top K texts), ``t2i_R@K`` (a text is a hit when its image is in
        its top K images) and their mean ``mean_R``.
    """
    sim = np.asarray(similarity)
    owner = np.asarray(text_to_image)
    n_img = sim.shape[0]
    # rank of the best-ranked own caption, per image
    order = np.argsort(-sim, axis=1, kind='stable')
    own = owner[order] == np.arange(n_img)[:, None]
    i2t_rank = own.argmax(1)
    # rank of the own image, per text
    order_t = np.argsort(-sim.T, axis=1, kind='stable')
    t2i_rank = (order_t == owner[:, None]).argmax(1)
    out = {}
    for k in ks:
        out[f'i2t_R@{k}'] = 100. * float((i2t_rank < k).mean())
    for k in ks:
        out[f't2i_R@{k}'] = 100. * float((t2i_rank < k).mean())
    out['mean_R'] = float(np.mean(list(out.values())))
    return out
