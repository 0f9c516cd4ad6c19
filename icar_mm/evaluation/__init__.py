"""Evaluation of iCAR models: the protocols of CLIP and the iCAR paper.

* zero-shot classification on ImageNet-1K and Kornblith-12
  (:func:`evaluate_zero_shot`, :class:`ZeroShotMetric` for
  ``val_evaluator``, :class:`ZeroShotEvalHook` for checks during training);
* linear probe and few-shot on frozen, disk-cached features
  (:func:`evaluate_linear_probe`);
* image-text retrieval R@1/5/10 (:func:`evaluate_retrieval`).

The functions return results (dicts, arrays); writing them as files and
plots is ``tools/evaluate.py``'s.

Importing it registers the benchmark datasets
(:mod:`icar_mm.datasets.benchmarks`).
"""
from icar_mm.datasets import benchmarks  # noqa: F401  (registration)
from .benchmark import (evaluate_linear_probe, evaluate_val_metrics,
                        evaluate_zero_shot, vocabularies)
from .features import FeatureCache, extract_features
from .functional import (classification_metrics, mean_per_class_accuracy,
                         retrieval_recall, topk_accuracy,
                         voc11_average_precision,
                         voc11_mean_average_precision)
from .hooks import TextInitClassifierHook, ZeroShotEvalHook
from .linear_probe import (few_shot_evaluate, linear_probe, sample_few_shot,
                           split_validation,
                           select_c)
from .metrics import ZeroShotMetric
from .retrieval import evaluate_retrieval
from .zero_shot import zero_shot_logits, zero_shot_metrics

__all__ = [
    'evaluate_linear_probe', 'evaluate_val_metrics', 'evaluate_zero_shot',
    'vocabularies',
    'FeatureCache', 'extract_features', 'classification_metrics',
    'mean_per_class_accuracy', 'retrieval_recall', 'topk_accuracy',
    'voc11_average_precision', 'voc11_mean_average_precision',
    'ZeroShotEvalHook', 'TextInitClassifierHook', 'few_shot_evaluate',
    'split_validation', 'linear_probe', 'sample_few_shot', 'select_c',
    'ZeroShotMetric', 'evaluate_retrieval', 'zero_shot_logits',
    'zero_shot_metrics'
]
