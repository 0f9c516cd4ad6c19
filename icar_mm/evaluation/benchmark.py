"""The benchmark evaluations: zero-shot, linear probe, few-shot.

:func:`evaluate_zero_shot` evaluates a model on every requested benchmark
found under a data root (absent ones are skipped with a notice), under
names-only and, optionally, described class texts;
:func:`evaluate_linear_probe` does the same for the linear probe and
few-shot protocols. Both return their results as a dict and write nothing
but the feature cache (``tools/evaluate.py`` writes the results as JSON,
Markdown and plots). Both also accept two pseudo-benchmarks:

* ``config``: the config's own ``test_dataloader`` scored with its
  ``test_cfg.vocabularies`` (or the model's vocabulary/head): the number
  the training run's own validation reports.
* ``synthetic_world``: the held-out classes of the embedded synthetic world
  (``heldout_train`` for probes, ``heldout`` for testing), with the
  config's ``world`` settings.
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config

from icar_mm.class_texts import (ClassTextBank, benchmark_class_texts,
                                 build_class_text_bank)
from icar_mm.datasets.benchmarks import BenchmarkSpec, resolve_benchmarks
from icar_mm.registry import DATASETS, METRICS
from .features import (FeatureCache, build_dataloader, extract_features,
                       model_fingerprint)
from .linear_probe import few_shot_evaluate, linear_probe, split_validation
from .zero_shot import zero_shot_metrics

PSEUDO = ('config', 'synthetic_world')


def image_pipeline(image_size: int, multilabel: bool = False) -> List[dict]:
    """CLIP's test transform: bicubic short-side resize, centre crop."""
    pack = dict(type='PackInputs')
    if multilabel:
        pack['algorithm_keys'] = ['gt_label_difficult']
    return [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=image_size, edge='short',
             backend='pillow', interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=image_size),
        pack,
    ]


def synthetic_world_spec(cfg: Optional[Config] = None,
                         num_per_class: int = 40) -> BenchmarkSpec:
    """The held-out classes of the synthetic world as a benchmark."""
    world = dict((cfg or {}).get('world', None) or dict(seed=0,
                                                        image_size=32))
    return BenchmarkSpec(
        'synthetic_world', 'Synthetic world (held-out)',
        'SyntheticWorldClsDataset', '', '', 'top1',
        dict(train='heldout_train', test='heldout'),
        kwargs=dict(world=world, num_per_class=num_per_class))


def _dataset_cfg(spec: BenchmarkSpec, role: str, data_root: str,
                 image_size: int, dirs, seed: int) -> dict:
    if spec.name == 'synthetic_world':
        return dict(type=spec.type, split=spec.splits[role],
                    seed=2 if role == 'test' else 3,
                    pipeline=[dict(type='PackInputs')], **spec.kwargs)
    return spec.dataset_cfg(data_root, role,
                            image_pipeline(image_size, spec.multilabel),
                            dirs)


def _spec_names(spec: BenchmarkSpec) -> List[str]:
    if spec.name == 'synthetic_world':
        from icar_mm.datasets import synthetic_world_class_texts
        return [c['name'] for c in synthetic_world_class_texts('heldout')]
    return spec.classnames


def vocabularies(spec: BenchmarkSpec,
                 descriptions: Optional[str] = None,
                 names_only: bool = True,
                 lowercase: bool = True) -> Dict[str, ClassTextBank]:
    """``names`` (CLIP's names + templates) and, with ``descriptions``,
    ``described`` (iCAR's ``"{name}, {description}"``) vocabularies."""
    if spec.name == 'synthetic_world':
        source = dict(type='synthetic_world', split='heldout')
        out = {}
        if names_only:
            out['names'] = ClassTextBank(source=source,
                                         templates='synthetic-world',
                                         use_descriptions=False)
        if descriptions:
            out['described'] = ClassTextBank(source=source,
                                             templates='synthetic-world')
        return out
    out = {}
    if names_only:
        out['names'] = ClassTextBank(
            classes=benchmark_class_texts(spec.classnames),
            templates=spec.templates, use_descriptions=False,
            lowercase=lowercase)
    if descriptions:
        texts = benchmark_class_texts(spec.classnames, descriptions,
                                      imagenet=spec.imagenet_descriptions)
        # classes without a description keep their bare name
        for t in texts:
            if not t['description']:
                t['description'] = t['name']
        out['described'] = ClassTextBank(
            classes=texts, templates=spec.templates,
            text_format='{name}, {description}', lowercase=lowercase)
    return out


def _config_vocabularies(cfg: Config) -> Dict[str, Optional[dict]]:
    loop = cfg.get('test_cfg') or {}
    vocabs = loop.get('vocabularies') if isinstance(loop, dict) else None
    if vocabs:
        return dict(vocabs)
    return {'model': cfg.model.get('vocabulary', None)}


def _log(logger: Callable, msg: str) -> None:
    (logger or print)(msg)


def _evaluate_config(model, cfg: Config) -> Dict:
    """Score ``cfg.test_dataloader`` as the config's own test loop does."""
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    dataset = DATASETS.build(loader_cfg['dataset'])
    embeds, labels = extract_features(
        model, build_dataloader(dataset, loader_cfg.get('batch_size', 64)))
    scores = {}
    for name, vocab in _config_vocabularies(cfg).items():
        if vocab is None:
            vocab = model.text_classifier.class_texts
        scores[name] = zero_shot_metrics(model, embeds, labels,
                                         build_class_text_bank(vocab),
                                         'top1')['top1']
    return dict(title='config test set', metric='top1', status='ok',
                num_images=len(dataset), scores=scores)


@torch.no_grad()
def evaluate_val_metrics(model, cfg: Config) -> Dict[str, float]:
    """The metrics of the config's own validation: ``cfg.val_dataloader``
    through ``model.val_step`` into ``cfg.val_evaluator``, as mmengine's
    ``ValLoop`` computes them (one process). For a fine-tuning config, the
    accuracy on its (seen) classes with the model's own head."""
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.val_dataloader)
    loader_cfg['dataset'] = DATASETS.build(loader_cfg['dataset'])
    loader = Runner.build_dataloader(loader_cfg)
    metrics = cfg.val_evaluator
    metrics = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    evaluator = Evaluator([METRICS.build(copy.deepcopy(m)) for m in metrics])
    evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
    was_training = model.training
    model.eval()
    for batch in loader:
        evaluator.process(data_samples=model.val_step(batch),
                          data_batch=batch)
    model.train(was_training)
    return evaluator.evaluate(len(loader.dataset))


def evaluate_zero_shot(model,
                       data_root: str,
                       datasets: Sequence[str],
                       cfg: Optional[Config] = None,
                       image_size: int = 224,
                       descriptions: Optional[str] = None,
                       names_only: bool = True,
                       dataset_dirs: Optional[Dict[str, str]] = None,
                       batch_size: int = 64,
                       num_workers: int = 0,
                       lowercase: bool = True,
                       logger: Optional[Callable] = None) -> Dict:
    """Zero-shot evaluation on the benchmarks present under ``data_root``.

    Returns:
        dict: ``datasets`` (per benchmark: ``title``, ``metric``,
        ``status`` ('ok' or 'absent'), ``num_images``, ``scores`` per
        vocabulary, ``metrics`` per vocabulary), ``mean`` per vocabulary
        over the evaluated datasets, ``num_evaluated``.
    """
    results: Dict = dict(data_root=data_root, image_size=image_size,
                         descriptions=descriptions, datasets={})
    real = [d for d in datasets if d not in PSEUDO]
    specs = resolve_benchmarks(real) if real else []
    order = []
    for d in datasets:
        if d == 'config':
            order.append('config')
        elif d == 'synthetic_world':
            order.append(synthetic_world_spec(cfg))
    order = order + specs
    for spec in order:
        if spec == 'config':
            if cfg is None:
                raise ValueError('"config" needs the model config.')
            results['datasets']['config'] = _evaluate_config(model, cfg)
            continue
        if spec.name != 'synthetic_world' and not spec.is_present(
                data_root, dataset_dirs):
            _log(logger, f'NOTICE: {spec.title} not found at '
                 f'{spec.root(data_root, dataset_dirs)} (looked for '
                 f'{spec.marker or "the folder"}); skipped.')
            results['datasets'][spec.name] = dict(
                title=spec.title, metric=spec.metric, status='absent')
            continue
        dataset = DATASETS.build(
            _dataset_cfg(spec, 'test', data_root, image_size, dataset_dirs,
                         0))
        names = _spec_names(spec)
        loader = build_dataloader(dataset, batch_size, num_workers)
        embeds, targets = extract_features(
            model, loader,
            num_classes=len(names) if spec.multilabel else None)
        entry = dict(title=spec.title, metric=spec.metric, status='ok',
                     num_images=len(targets), scores={}, metrics={},
                     skipped_images=[p for p, _ in loader.skipped])
        for vname, bank in vocabularies(spec, descriptions, names_only,
                                        lowercase).items():
            m = zero_shot_metrics(model, embeds, targets, bank, spec.metric)
            entry['metrics'][vname] = m
            entry['scores'][vname] = m['score']
        _log(logger, f'{spec.title}: ' + ', '.join(
            f'{k} {v:.2f}' for k, v in entry['scores'].items()))
        results['datasets'][spec.name] = entry
    done = [r for r in results['datasets'].values() if r['status'] == 'ok']
    results['num_evaluated'] = len(done)
    vocab_names = {v for r in done for v in r['scores']}
    results['mean'] = {
        v: float(np.mean([r['scores'][v] for r in done if v in r['scores']]))
        for v in sorted(vocab_names)
    }
    return results


def evaluate_linear_probe(model,
                          data_root: str,
                          datasets: Sequence[str],
                          cfg: Optional[Config] = None,
                          image_size: int = 224,
                          shots: Sequence[int] = (1, 2, 4, 8, 16),
                          seeds: Sequence[int] = (0, 1, 2),
                          linear: bool = True,
                          few_shot: bool = True,
                          feature: str = 'backbone',
                          cache_dir: Optional[str] = None,
                          dataset_dirs: Optional[Dict[str, str]] = None,
                          batch_size: int = 64,
                          num_workers: int = 0,
                          max_iter: int = 1000,
                          logger: Optional[Callable] = None) -> Dict:
    """Linear probe and few-shot on frozen features.

    The features are cached in ``cache_dir`` (:class:`FeatureCache`; none
    without it), the only files it writes.

    Returns:
        dict: ``datasets`` (per benchmark: ``title``, ``metric``,
        ``status``, ``num_train``, ``num_test``, ``linear_probe`` and
        ``few_shot`` per K), ``shots``, ``seeds``, ``feature`` and ``cache``
        (hits and misses).
    """
    results: Dict = dict(data_root=data_root, feature=feature, datasets={},
                         shots=list(shots), seeds=list(seeds))
    cache = FeatureCache(cache_dir)
    model_key = model_fingerprint(model)
    specs = [synthetic_world_spec(cfg) for d in datasets
             if d == 'synthetic_world']
    specs += resolve_benchmarks([d for d in datasets if d not in PSEUDO])
    for spec in specs:
        if spec.name != 'synthetic_world' and not spec.is_present(
                data_root, dataset_dirs):
            _log(logger, f'NOTICE: {spec.title} not found at '
                 f'{spec.root(data_root, dataset_dirs)}; skipped.')
            results['datasets'][spec.name] = dict(title=spec.title,
                                                  status='absent')
            continue
        num_classes = len(_spec_names(spec))
        split_feats = {}
        for role in [r for r in ('train', 'val', 'test')
                     if r in spec.splits]:
            ds_cfg = _dataset_cfg(spec, role, data_root, image_size,
                                  dataset_dirs, 0)

            def compute(ds_cfg=ds_cfg):
                dataset = DATASETS.build(ds_cfg)
                return extract_features(
                    model, build_dataloader(dataset, batch_size,
                                            num_workers), feature,
                    num_classes if spec.multilabel else None)

            split_feats[role] = cache.get_or_compute(
                model_key, dict(dataset=ds_cfg, feature=feature), compute)
        train = split_feats['train']
        val = split_feats.get('val')
        entry = dict(title=spec.title, metric=spec.metric, status='ok',
                     num_train=len(train[1]), num_test=len(
                         split_feats['test'][1]),
                     val_source='dataset' if val is not None else
                     'held out of train')
        if linear:
            if val is None:
                tr, va = split_validation(
                    train[1] if not spec.multilabel else
                    np.zeros(len(train[1]), int))
                lp_train = (train[0][tr], train[1][tr])
                lp_val = (train[0][va], train[1][va])
            else:
                lp_train, lp_val = train, val
            entry['linear_probe'] = linear_probe(
                lp_train, lp_val, split_feats['test'], num_classes,
                spec.metric, max_iter=max_iter)
            _log(logger, f"{spec.title}: linear probe "
                 f"{entry['linear_probe']['score']:.2f}")
        if few_shot and not spec.multilabel:
            entry['few_shot'] = few_shot_evaluate(
                train, split_feats['test'], num_classes, shots, seeds,
                spec.metric, val=val, max_iter=max_iter)
            _log(logger, f'{spec.title}: few-shot ' + ', '.join(
                f"{k}: {v['mean']:.2f}±{v['std']:.2f}"
                for k, v in entry['few_shot'].items()))
        results['datasets'][spec.name] = entry
    results['cache'] = dict(dir=cache_dir, hits=cache.hits,
                            misses=cache.misses)
    return results
