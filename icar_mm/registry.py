"""Registries of icar_mm: its own scope, ``'icar_mm'``, below mmpretrain's.

Each registry is a child of mmpretrain's (as mmpretrain's are children of
mmengine's), so a config with ``default_scope = 'icar_mm'`` finds icar_mm's
components and, through the parents, every mmpretrain and mmengine one
(``ResNet``, ``PackInputs``, ``Accuracy``, ``InfiniteSampler``...) by its
plain name. From mmpretrain's scope a class is ``'icar_mm.NAME'``.

From a sibling host's scope (mmdet, mmseg, mmaction2) mmengine resolves a
prefixed name only among the *direct* children of its root registries, which
icar_mm's are not. A sub-config built from another scope names its scope
instead: ``dict(_scope_='icar_mm', type='TextClassifier', ...)``, so that it
and everything it builds (the text encoder inside) resolve in icar_mm's
scope. The downstream heads do this for their ``text_classifier``
(:func:`icar_mm.models.text.build_text_classifier`).

``CLASS_TEXT_SOURCES`` (functions returning class names and descriptions) is
icar_mm's own registry; it has no counterpart elsewhere.
"""
from mmengine.registry import Registry
from mmpretrain import registry as pretrain

_SCOPE = 'icar_mm'


def _child(parent: Registry, *locations: str) -> Registry:
    """icar_mm's registry below ``parent``.

    It imports ``locations`` and the parent's own (mmpretrain registers some
    modules lazily, e.g. its visualizers) on first use: a child's lookup
    reads its parents' tables but would not fill them.
    """
    return Registry(
        parent.name,
        parent=parent,
        scope=_SCOPE,
        locations=[*locations, *getattr(parent, '_locations', [])])


RUNNERS = _child(pretrain.RUNNERS, 'icar_mm.engine')
RUNNER_CONSTRUCTORS = _child(pretrain.RUNNER_CONSTRUCTORS, 'icar_mm.engine')
LOOPS = _child(pretrain.LOOPS, 'icar_mm.engine')
HOOKS = _child(pretrain.HOOKS, 'icar_mm.engine', 'icar_mm.evaluation')
LOG_PROCESSORS = _child(pretrain.LOG_PROCESSORS, 'icar_mm.engine')
OPTIMIZERS = _child(pretrain.OPTIMIZERS, 'icar_mm.engine')
OPTIM_WRAPPERS = _child(pretrain.OPTIM_WRAPPERS, 'icar_mm.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child(pretrain.OPTIM_WRAPPER_CONSTRUCTORS,
                                    'icar_mm.engine')
PARAM_SCHEDULERS = _child(pretrain.PARAM_SCHEDULERS, 'icar_mm.engine')

DATASETS = _child(pretrain.DATASETS, 'icar_mm.datasets')
DATA_SAMPLERS = _child(pretrain.DATA_SAMPLERS, 'icar_mm.datasets')
TRANSFORMS = _child(pretrain.TRANSFORMS, 'icar_mm.datasets')

MODELS = _child(pretrain.MODELS, 'icar_mm.models')
MODEL_WRAPPERS = _child(pretrain.MODEL_WRAPPERS, 'icar_mm.engine')
WEIGHT_INITIALIZERS = _child(pretrain.WEIGHT_INITIALIZERS, 'icar_mm.models')
BATCH_AUGMENTS = _child(pretrain.BATCH_AUGMENTS, 'icar_mm.models')
TASK_UTILS = _child(pretrain.TASK_UTILS, 'icar_mm.models')

METRICS = _child(pretrain.METRICS, 'icar_mm.evaluation')
EVALUATORS = _child(pretrain.EVALUATORS, 'icar_mm.evaluation')

VISUALIZERS = _child(pretrain.VISUALIZERS)
VISBACKENDS = _child(pretrain.VISBACKENDS)

#: Named providers of class texts: each is a function returning a list of
#: ``dict(name=str, description=str, aliases=list[str])``; a class-text bank
#: looks them up by ``source=dict(type=NAME, **kwargs)``.
CLASS_TEXT_SOURCES = Registry(
    'class text source',
    scope=_SCOPE,
    locations=['icar_mm.class_texts', 'icar_mm.datasets'])

__all__ = [
    'BATCH_AUGMENTS', 'CLASS_TEXT_SOURCES', 'DATASETS', 'DATA_SAMPLERS',
    'EVALUATORS', 'HOOKS', 'LOG_PROCESSORS', 'LOOPS', 'METRICS', 'MODELS',
    'MODEL_WRAPPERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'RUNNERS',
    'RUNNER_CONSTRUCTORS', 'TASK_UTILS', 'TRANSFORMS', 'VISBACKENDS',
    'VISUALIZERS', 'WEIGHT_INITIALIZERS'
]
