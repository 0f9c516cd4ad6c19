"""Registries of icar_mm.

Components are registered into mmpretrain's registries (children of
mmengine's roots), so ``mmpretrain::`` based configs compose them with
``default_scope='mmpretrain'`` and ``custom_imports=dict(imports=['icar_mm'])``.
Only the class-text sources are icar_mm's own.
"""
from mmengine.registry import Registry
from mmpretrain.registry import (DATA_SAMPLERS, DATASETS, EVALUATORS, HOOKS,
                                 LOOPS, METRICS, MODELS, TASK_UTILS,
                                 TRANSFORMS)

#: Named providers of class texts: each is a function returning a list of
#: ``dict(name=str, description=str, aliases=list[str])``; the class-text
#: bank looks them up by ``source=dict(type=NAME, **kwargs)``.
CLASS_TEXT_SOURCES = Registry('class text source')

__all__ = [
    'CLASS_TEXT_SOURCES', 'DATASETS', 'DATA_SAMPLERS', 'EVALUATORS', 'HOOKS',
    'LOOPS', 'METRICS', 'MODELS', 'TASK_UTILS', 'TRANSFORMS'
]
