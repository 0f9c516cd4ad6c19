"""Each metric against an independent computation."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

import icar_mm  # noqa: F401
from icar_mm.evaluation import ZeroShotMetric
from icar_mm.evaluation.functional import (classification_metrics,
                                           mean_per_class_accuracy,
                                           retrieval_recall, topk_accuracy,
                                           voc11_average_precision,
                                           voc11_mean_average_precision)


def test_mean_per_class_equals_sklearn_balanced_accuracy():
    from sklearn.metrics import balanced_accuracy_score
    rng = np.random.default_rng(0)
    # imbalanced classes; class 6 never occurs in the labels
    labels = rng.choice(6, 500, p=[.5, .2, .1, .1, .05, .05])
    preds = np.where(rng.random(500) < 0.6, labels, rng.integers(0, 7, 500))
    ours = mean_per_class_accuracy(preds, labels, 7)
    assert ours == pytest.approx(100 * balanced_accuracy_score(labels, preds))
    # it is not plain accuracy on imbalanced data
    assert abs(ours - 100 * (preds == labels).mean()) > 1


def test_topk_accuracy_by_hand():
    scores = np.array([[.1, .7, .2], [.5, .3, .2], [.1, .2, .7],
                       [.3, .3, .4]])
    labels = np.array([1, 1, 0, 0])
    assert topk_accuracy(scores, labels, 1) == 25.
    assert topk_accuracy(scores, labels, 2) == 75.
    assert topk_accuracy(scores, labels, 5) == 100.


def test_voc_11_point_ap_hand_checked():
    # ranking: + - + - - +   (3 positives)
    scores = np.array([.9, .8, .7, .6, .5, .4])
    targets = np.array([1, 0, 1, 0, 0, 1])
    # precision at each positive: 1/1, 2/3, 3/6 -> recall 1/3, 2/3, 1
    # t=0..0.3: max prec at recall>=t is 1 (4 points)
    # t=0.4..0.6: 2/3 (3 points); t=0.7..1.0: 1/2 (4 points)
    expected = (4 * 1 + 3 * 2 / 3 + 4 * 0.5) / 11 * 100
    assert voc11_average_precision(scores, targets) == pytest.approx(expected)
    # a "difficult" (-1) sample is ignored: dropping it changes nothing
    with_difficult = voc11_average_precision(
        np.array([.95, .9, .8, .7, .6, .5, .4]),
        np.array([-1, 1, 0, 1, 0, 0, 1]))
    assert with_difficult == pytest.approx(expected)
    # 11-point AP differs from the area under the curve
    assert expected != pytest.approx(100 * (1 + 2 / 3 + 0.5) / 3)
    # perfect ranking; no positives -> NaN, left out of the mean
    assert voc11_average_precision([.9, .1], [1, 0]) == pytest.approx(100)
    assert np.isnan(voc11_average_precision([.9, .1], [0, 0]))
    m = voc11_mean_average_precision(
        np.stack([scores, scores, -scores], 1),
        np.stack([targets, np.zeros(6, int), targets], 1))
    assert m == pytest.approx(
        (expected + voc11_average_precision(-scores, targets)) / 2)


def test_voc_11_point_ap_matches_devkit_formula():
    """The VOC2007 devkit's VOCevalcls.m, transcribed in numpy."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = 40
        scores = rng.random(n)
        gt = rng.choice([1, 0, 0, -1], n)
        if not (gt == 1).any():
            gt[0] = 1
        # devkit coding: 1 positive, -1 negative, 0 difficult
        dk = np.where(gt == 1, 1, np.where(gt == 0, -1, 0))
        g = dk[np.argsort(-scores)]
        tp = np.cumsum(g > 0)
        fp = np.cumsum(g < 0)
        rec = tp / (dk > 0).sum()
        with np.errstate(invalid='ignore'):
            prec = tp / (fp + tp)
        ap = 0
        for t in np.arange(0, 1.1, 0.1):
            p = np.nanmax(prec[rec >= t]) if (rec >= t).any() else 0
            ap += p / 11
        assert voc11_average_precision(scores, gt) == pytest.approx(100 * ap)


def test_zero_shot_metric_in_an_mmengine_evaluator():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(30, 4)), dtype=torch.float32)
    labels = rng.integers(0, 4, 30)
    samples = []
    for lg, y in zip(logits, labels):
        s = DataSample().set_gt_label(int(y))
        s.set_pred_score(lg.softmax(0)).set_pred_label(lg.argmax())
        s.set_field(lg, 'pred_logits')
        samples.append(s)
    ev = Evaluator(ZeroShotMetric(protocol='mean_per_class'))
    ev.process(samples)
    out = ev.evaluate(30)
    ref = classification_metrics(logits.numpy(), labels)
    assert out['zero-shot/score'] == pytest.approx(ref['mean_per_class'])
    assert out['zero-shot/top1'] == pytest.approx(ref['top1'])

    # multi-label (VOC): ranked by logits, difficult labels ignored
    ml = []
    targets = np.zeros((30, 4), int)
    for i, lg in enumerate(logits):
        pos = [i % 4, (i + 1) % 4]
        s = DataSample().set_gt_label(pos)
        s.set_field([(i + 2) % 4] if i % 3 == 0 else [],
                    'gt_label_difficult')
        s.set_pred_score(lg.softmax(0)).set_field(lg, 'pred_logits')
        targets[i, pos] = 1
        if i % 3 == 0:
            targets[i, (i + 2) % 4] = -1
        ml.append(s)
    ev = Evaluator(ZeroShotMetric(protocol='map11'))
    ev.process(ml)
    out = ev.evaluate(30)
    assert out['zero-shot/map11'] == pytest.approx(
        voc11_mean_average_precision(logits.numpy(), targets))


def test_retrieval_recall_matches_clip_benchmark_and_brute_force():
    from clip_benchmark.metrics.zeroshot_retrieval import recall_at_k
    rng = np.random.default_rng(0)
    n_img, per = 12, 5
    owner = np.repeat(np.arange(n_img), per)
    sim = rng.normal(size=(n_img, n_img * per))
    sim[owner, np.arange(len(owner))] += 1.0  # better than chance
    ours = retrieval_recall(sim, owner)
    positive = torch.zeros(n_img * per, n_img, dtype=torch.bool)
    positive[torch.arange(len(owner)), torch.as_tensor(owner)] = True
    scores = torch.as_tensor(sim.T)  # texts x images, as clip-benchmark
    for k in (1, 5, 10):
        # clip-benchmark's evaluate(): a query is a hit when recall > 0
        t2i = (recall_at_k(scores, positive, k) > 0).float().mean().item()
        i2t = (recall_at_k(scores.T, positive.T, k) > 0).float().mean().item()
        assert ours[f't2i_R@{k}'] == pytest.approx(100 * t2i, abs=1e-4)
        assert ours[f'i2t_R@{k}'] == pytest.approx(100 * i2t, abs=1e-4)
        # brute force
        hit = [owner[np.argsort(-sim[i])[:k]].tolist().count(i) > 0
               for i in range(n_img)]
        assert ours[f'i2t_R@{k}'] == pytest.approx(100 * np.mean(hit))
    assert 0 < ours['i2t_R@1'] < ours['i2t_R@10'] <= 100
