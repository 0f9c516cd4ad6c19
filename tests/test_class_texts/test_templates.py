"""Template sets: registered by name when their module is imported."""
import importlib.util

import pytest

from icar_mm.class_texts import (get_templates, register_templates,
                                 template_set_names)
from icar_mm.class_texts.clip_prompts import TEMPLATES as CLIP_TEMPLATES


def test_the_templates_module_registers_every_set_itself():
    """A fresh copy of the module holds every set once imported, so no
    import order (e.g. of the evaluation package) decides which names
    exist."""
    import icar_mm.class_texts.templates as module
    spec = importlib.util.spec_from_file_location(
        'icar_mm.class_texts._fresh_templates', module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert fresh.template_set_names() == sorted(
        ['imagenet', 'imagenet-simple', 'synthetic-world', 'identity'] +
        [f'clip-{k}' for k in CLIP_TEMPLATES])
    assert fresh.get_templates('clip-food101')[0] == \
        'a photo of {}, a type of food.'


def test_builtin_sets():
    names = template_set_names()
    assert {'imagenet', 'imagenet-simple', 'synthetic-world',
            'identity'} <= set(names)
    assert {f'clip-{k}' for k in CLIP_TEMPLATES} <= set(names)
    assert get_templates('imagenet') == CLIP_TEMPLATES['imagenet']
    assert len(get_templates('imagenet')) == 80
    assert get_templates('identity') == ['{}']
    # a copy: callers cannot change the registered set
    get_templates('identity').append('x {}')
    assert get_templates('identity') == ['{}']


def test_register_and_errors():
    register_templates('test-set', ['a {}.', 'b {}.'])
    assert get_templates('test-set') == ['a {}.', 'b {}.']
    with pytest.raises(KeyError, match='already registered'):
        register_templates('test-set', ['c {}.'])
    register_templates('test-set', ['c {}.'], force=True)
    assert get_templates('test-set') == ['c {}.']
    with pytest.raises(ValueError, match='exactly once'):
        register_templates('bad', ['no placeholder'])
    with pytest.raises(KeyError, match='Unknown template set'):
        get_templates('nope')
    with pytest.raises(ValueError, match='exactly once'):
        get_templates(['{} and {}'])
