"""Linear probe and few-shot classification on frozen features.

The CLIP protocol (Radford et al. 2021, appendix A.3): L2-regularised
multinomial logistic regression (scikit-learn, L-BFGS) on frozen features;
the regularisation strength is chosen on a validation split by a
parametric binary search that starts from ``C = 1e-6, 1e-4, ..., 1e6`` and
halves the interval around the best value until it reaches 8 steps per
decade; the final classifier is fitted with that ``C`` on train + val and
evaluated on the test split with the dataset's metric.

Few-shot (:func:`few_shot_evaluate`): for K shots and each seed, exactly K
training samples per class are drawn; the validation samples that choose
``C`` come from the dataset's own validation split or, when there is none,
from the *rest* of the training split, disjoint from the K shots; the
final classifier is fitted on the K shots only, so no validation label
ever reaches training (a known flaw of peer tools, where validation data is
merged into the few-shot training set or drawn from it).
"""
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .functional import classification_metrics


def _fit(x: np.ndarray, y: np.ndarray, c: float, max_iter: int,
         multilabel: bool):
    from sklearn.linear_model import LogisticRegression
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        if multilabel:
            # one binary classifier per class; ignored (-1) targets count
            # as positives for training, as the objects are in the image
            from sklearn.multiclass import OneVsRestClassifier
            clf = OneVsRestClassifier(
                LogisticRegression(C=c, max_iter=max_iter))
            return clf.fit(x, (y != 0).astype(int))
        return LogisticRegression(C=c, max_iter=max_iter).fit(x, y)


def _scores(clf, x: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N, num_classes)`` scores; classes unseen in training get -inf."""
    raw = clf.decision_function(x)
    if raw.ndim == 1:  # binary problem
        raw = np.stack([-raw, raw], 1)
    if raw.shape[1] == num_classes and not hasattr(clf, 'classes_'):
        return raw
    out = np.full((x.shape[0], num_classes), -np.inf)
    classes = getattr(clf, 'classes_', np.arange(raw.shape[1]))
    if raw.shape[1] == len(classes):
        out[:, np.asarray(classes, int)] = raw
        return out
    return raw


def _metric(clf, x, y, num_classes: int, metric: str) -> float:
    return classification_metrics(_scores(clf, x, num_classes), y,
                                  topk=(1, ))[metric]


def select_c(train: Tuple[np.ndarray, np.ndarray],
             val: Tuple[np.ndarray, np.ndarray],
             num_classes: int,
             metric: str = 'top1',
             steps_per_decade: int = 8,
             max_iter: int = 1000,
             multilabel: bool = False,
             start_logs: Sequence[float] = (-6., -4., -2., 0., 2., 4., 6.)
             ) -> Tuple[float, Dict[float, float]]:
    """CLIP's parametric binary search of the inverse L2 strength ``C``.

    ``start_logs``: log10 of the first ``C`` values (CLIP: -6 to 6, step 2).

    Returns:
        tuple: The best ``C`` and every ``{C: validation metric}`` tried.
    """
    tried: Dict[float, float] = {}

    def score(log_c: float) -> float:
        c = float(10.**log_c)
        if c not in tried:
            clf = _fit(train[0], train[1], c, max_iter, multilabel)
            tried[c] = _metric(clf, val[0], val[1], num_classes, metric)
        return tried[c]

    logs = [float(v) for v in start_logs]
    values = [score(v) for v in logs]
    best = int(np.argmax(values))
    step = float(np.min(np.diff(logs))) if len(logs) > 1 else 2.
    center = logs[best]
    while step > 1. / steps_per_decade + 1e-9:
        step /= 2.
        candidates = [center - step, center, center + step]
        values = [score(v) for v in candidates]
        center = candidates[int(np.argmax(values))]
    best_c = float(10.**center)
    return best_c, tried


def linear_probe(train: Tuple[np.ndarray, np.ndarray],
                 val: Tuple[np.ndarray, np.ndarray],
                 test: Tuple[np.ndarray, np.ndarray],
                 num_classes: int,
                 metric: str = 'top1',
                 refit_on_train_val: bool = True,
                 steps_per_decade: int = 8,
                 max_iter: int = 1000,
                 start_logs: Sequence[float] = (-6., -4., -2., 0., 2., 4.,
                                                6.)) -> Dict[str, object]:
    """Fit on train, choose ``C`` on val, report ``metric`` on test.

    Args:
        train, val, test (tuple): ``(features, targets)`` of each split.
        num_classes (int): Number of classes.
        metric (str): ``'top1'``, ``'mean_per_class'`` or ``'map11'``.
        refit_on_train_val (bool): Fit the final classifier on train + val
            (CLIP); False keeps train only (few-shot).

    Returns:
        dict: ``score`` (test ``metric``), ``C``, ``val_score``, ``sweep``
        and every test metric under ``test``.
    """
    multilabel = np.asarray(train[1]).ndim == 2
    c, tried = select_c(train, val, num_classes, metric, steps_per_decade,
                        max_iter, multilabel, start_logs)
    if refit_on_train_val:
        x = np.concatenate([train[0], val[0]])
        y = np.concatenate([train[1], val[1]])
    else:
        x, y = train
    clf = _fit(x, y, c, max_iter, multilabel)
    test_metrics = classification_metrics(
        _scores(clf, test[0], num_classes), test[1], topk=(1, ))
    return dict(
        score=test_metrics[metric], C=c, val_score=tried[c],
        sweep={f'{k:.4g}': v for k, v in sorted(tried.items())},
        test=test_metrics)


def split_validation(labels: np.ndarray,
                     fraction: float = 0.2,
                     seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class split of training indices into (train, val), disjoint.

    At least one sample per class stays in train; classes with at least two
    samples give at least one to val.
    """
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        val_idx += idx[:n_val].tolist()
        train_idx += idx[n_val:].tolist()
    return np.sort(train_idx), np.sort(val_idx)


def sample_few_shot(labels: np.ndarray, k: int, seed: int,
                    exclude: Sequence[int] = ()) -> np.ndarray:
    """Exactly ``k`` indices per class, none of them in ``exclude``.

    Raises:
        ValueError: A class has fewer than ``k`` eligible samples.
    """
    rng = np.random.default_rng(seed)
    excluded = np.zeros(len(labels), bool)
    excluded[np.asarray(exclude, dtype=int)] = True
    chosen = []
    for c in np.unique(labels):
        pool = np.flatnonzero((labels == c) & ~excluded)
        if len(pool) < k:
            raise ValueError(f'Class {c} has {len(pool)} training samples '
                             f'outside validation, fewer than K={k}.')
        chosen += rng.choice(pool, k, replace=False).tolist()
    return np.sort(chosen)


def few_shot_evaluate(train: Tuple[np.ndarray, np.ndarray],
                      test: Tuple[np.ndarray, np.ndarray],
                      num_classes: int,
                      shots: Sequence[int] = (1, 2, 4, 8, 16),
                      seeds: Sequence[int] = (0, 1, 2),
                      metric: str = 'top1',
                      val: Optional[Tuple[np.ndarray, np.ndarray]] = None,
                      val_per_class: Optional[int] = None,
                      steps_per_decade: int = 4,
                      max_iter: int = 1000) -> Dict[str, object]:
    """K-shot linear probes: mean and std over seeds for each K.

    Args:
        train, test (tuple): ``(features, labels)``.
        num_classes (int): Number of classes.
        shots (Sequence[int]): The K values.
        seeds (Sequence[int]): One run per seed.
        metric (str): The dataset's metric.
        val (tuple, optional): The dataset's own validation split. None:
            draw, per seed, ``val_per_class`` (default: K, at least 1)
            samples per class from the training split, disjoint from the
            shots.
        steps_per_decade (int): Resolution of the ``C`` search.

    Returns:
        dict: ``{K: dict(mean, std, scores, runs=[dict(seed, C, train_idx,
        val_idx or None)])}``.
    """
    labels = np.asarray(train[1])
    results: Dict[str, object] = {}
    for k in shots:
        scores, runs = [], []
        for seed in seeds:
            val_idx = None
            if val is None:
                n_val = val_per_class or max(1, k)
                val_idx = sample_few_shot(labels, n_val, 10_000 + seed)
                val_split = (train[0][val_idx], labels[val_idx])
            else:
                val_split = val
            shot_idx = sample_few_shot(labels, k, seed,
                                       exclude=val_idx if val_idx is not
                                       None else ())
            if val_idx is not None:
                assert not set(shot_idx) & set(val_idx)
            out = linear_probe((train[0][shot_idx], labels[shot_idx]),
                               val_split, test, num_classes, metric,
                               refit_on_train_val=False,
                               steps_per_decade=steps_per_decade,
                               max_iter=max_iter)
            scores.append(out['score'])
            runs.append(dict(seed=seed, C=out['C'],
                             train_idx=shot_idx.tolist(),
                             val_idx=None if val_idx is None else
                             val_idx.tolist()))
        results[str(k)] = dict(
            mean=float(np.mean(scores)), std=float(np.std(scores)),
            scores=scores, runs=runs)
    return results
