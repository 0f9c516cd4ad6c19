"""icar_mm's registry scope: a child of mmpretrain's, reachable from hosts.

What mmengine resolves, proven here:

* in icar_mm's scope, icar_mm's modules and, through the parent registries,
  mmpretrain's and mmengine's by plain name;
* from mmpretrain's scope, ``icar_mm.NAME``;
* from a sibling host's scope (mmdet, mmseg, mmaction2), ``icar_mm.NAME``
  is *not* resolved: ``Registry.get`` looks for a foreign scope among the
  root registry's direct children only, and icar_mm's registries are
  children of mmpretrain's (which is what makes the first point work). A
  sub-config built there says ``_scope_='icar_mm'``; the whole sub-tree
  then builds in icar_mm's scope.
"""
import pytest
from mmengine.registry import DefaultScope
from mmengine.registry import MODELS as ROOT_MODELS

import icar_mm  # noqa: F401
from icar_mm.models.text import TextClassifier
from icar_mm.registry import MODELS, TRANSFORMS, VISUALIZERS
from tiny_models import TINY_TEXT

CLASSIFIER = dict(
    text_encoder=dict(config=TINY_TEXT, tokenizer='byte', embed_dim=8),
    class_texts=dict(classes=['cat', 'dog'], templates=['{}'],
                     use_descriptions=False))


def _build(registry, cfg, scope):
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def test_icar_scope_resolves_icar_mmpretrain_and_mmengine_names():
    assert MODELS.scope == 'icar_mm' and MODELS.parent.scope == 'mmpretrain'
    assert MODELS.get('ICAR').__module__ == 'icar_mm.models.icar'
    assert MODELS.get('ResNet').__module__.startswith('mmpretrain.')
    assert TRANSFORMS.get('PackInputs').__module__.startswith('mmpretrain.')
    assert VISUALIZERS.get('UniversalVisualizer') is not None
    # the scope a Runner switches to finds icar_mm's registry in the tree
    assert ROOT_MODELS._search_child('icar_mm') is MODELS
    model = _build(ROOT_MODELS, dict(type='ResNet', depth=18), 'icar_mm')
    assert type(model).__name__ == 'ResNet'


def test_former_names_are_aliases():
    assert MODELS.get('TextMetaClsHead') is MODELS.get('TextMetaClassifier')
    assert MODELS.get('TextCosineClassifier') is TextClassifier


def test_mmpretrain_scope_reaches_icar_by_prefix():
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    assert PRETRAIN_MODELS.get('icar_mm.TextClassifier') is TextClassifier
    # a leaf builds by prefix ...
    loss = _build(PRETRAIN_MODELS, dict(type='icar_mm.ContrastiveLoss'),
                  'mmpretrain')
    assert type(loss).__name__ == 'ContrastiveLoss'
    # ... a module that builds its own parts names the scope
    clf = _build(PRETRAIN_MODELS, dict(_scope_='icar_mm',
                                       type='TextClassifier', **CLASSIFIER),
                 'mmpretrain')
    assert isinstance(clf, TextClassifier)


@pytest.mark.parametrize('host', ['mmdet', 'mmseg', 'mmaction'])
def test_host_scopes_build_icar_sub_configs_with_scope_key(host):
    if host == 'mmaction':
        import icar_mm.downstream.action  # noqa: F401  (its stack fixes)
    registry = __import__(f'{host}.registry', fromlist=['MODELS']).MODELS
    before = DefaultScope.get_current_instance().scope_name
    # mmengine does not resolve a grandchild scope by prefix ...
    with pytest.raises((KeyError, RuntimeError)):
        if registry.get('icar_mm.TextClassifier') is None:
            raise KeyError('not found')
    # ... but builds a sub-config under `_scope_`, nested modules included
    clf = _build(registry, dict(_scope_='icar_mm', type='TextClassifier',
                                **CLASSIFIER), host)
    assert isinstance(clf, TextClassifier)
    assert type(clf.text_encoder).__name__ == 'TextEncoder'
    # nothing left behind
    assert DefaultScope.get_current_instance().scope_name == before
