"""Prompt template sets, by name. ``{}`` is replaced by the class text.

Every built-in set is registered when this module is imported, so a name
resolves whatever else has been imported:

* ``imagenet``: CLIP's 80-template ImageNet ensemble (Radford et al. 2021,
  re-used by OpenCLIP); ``imagenet-simple`` its 7-template subset;
* ``clip-<benchmark>``: CLIP's template set of each zero-shot benchmark
  (``clip-food101``, ``clip-cifar10``...; :mod:`.clip_prompts`);
* ``synthetic-world``: a few generic templates for the embedded demo data;
* ``identity``: the class text alone.

:func:`register_templates` adds a set of one's own.
"""
from typing import Dict, List, Sequence, Union

from .clip_prompts import TEMPLATES as _CLIP_TEMPLATES

_TEMPLATE_SETS: Dict[str, List[str]] = {}


def _check(templates: Sequence[str]) -> List[str]:
    templates = list(templates)
    bad = [t for t in templates if t.count('{}') != 1]
    if not templates or bad:
        raise ValueError('Every prompt template must contain "{}" exactly '
                         f'once; got {bad or templates!r}.')
    return templates


def register_templates(name: str, templates: Sequence[str],
                       force: bool = False) -> None:
    """Make a template set available by name.

    Args:
        name (str): The name configs use (``templates=name``).
        templates (Sequence[str]): Templates, each with one ``{}``.
        force (bool): Replace a set of that name. Defaults to False.
    """
    if name in _TEMPLATE_SETS and not force:
        raise KeyError(f'Template set {name!r} is already registered; pass '
                       'force=True to replace it.')
    _TEMPLATE_SETS[name] = _check(templates)


def template_set_names() -> List[str]:
    """The names of the registered template sets, sorted."""
    return sorted(_TEMPLATE_SETS)


def get_templates(templates: Union[str, Sequence[str]]) -> List[str]:
    """Resolve a template set by name, or validate a list of templates.

    Args:
        templates (str | Sequence[str]): A registered name or templates that
            each contain ``{}`` once.

    Returns:
        list[str]: The templates (a copy).
    """
    if isinstance(templates, str):
        if templates not in _TEMPLATE_SETS:
            raise KeyError(f'Unknown template set {templates!r}; known: '
                           f'{template_set_names()} (or give a list of '
                           'strings containing "{}").')
        return list(_TEMPLATE_SETS[templates])
    return _check(templates)


register_templates('imagenet', _CLIP_TEMPLATES['imagenet'])
register_templates('imagenet-simple', [
    'itap of a {}.',
    'a bad photo of the {}.',
    'a origami {}.',
    'a photo of the large {}.',
    'a {} in a video game.',
    'art of the {}.',
    'a photo of the small {}.',
])
register_templates('synthetic-world', [
    'a photo of a {}.',
    'a picture of a {}.',
    'an image showing a {}.',
    'a {} on a noisy background.',
    'a drawing of a {}.',
])
register_templates('identity', ['{}'])
for _name, _templates in _CLIP_TEMPLATES.items():
    register_templates(f'clip-{_name}', _templates)
