"""Prompt templates. ``{}`` is replaced by the class text.

``imagenet`` is CLIP's 80-template ImageNet ensemble (Radford et al. 2021,
as published with CLIP and re-used by OpenCLIP); ``imagenet-simple`` its
7-template subset; ``synthetic-world`` a few generic templates for the
embedded demo data.
"""
from typing import Dict, List, Sequence, Union

TEMPLATES: Dict[str, List[str]] = {
    'imagenet': [
        'a bad photo of a {}.',
        'a photo of many {}.',
        'a sculpture of a {}.',
        'a photo of the hard to see {}.',
        'a low resolution photo of the {}.',
        'a rendering of a {}.',
        'graffiti of a {}.',
        'a bad photo of the {}.',
        'a cropped photo of the {}.',
        'a tattoo of a {}.',
        'the embroidered {}.',
        'a photo of a hard to see {}.',
        'a bright photo of a {}.',
        'a photo of a clean {}.',
        'a photo of a dirty {}.',
        'a dark photo of the {}.',
        'a drawing of a {}.',
        'a photo of my {}.',
        'the plastic {}.',
        'a photo of the cool {}.',
        'a close-up photo of a {}.',
        'a black and white photo of the {}.',
        'a painting of the {}.',
        'a painting of a {}.',
        'a pixelated photo of the {}.',
        'a sculpture of the {}.',
        'a bright photo of the {}.',
        'a cropped photo of a {}.',
        'a plastic {}.',
        'a photo of the dirty {}.',
        'a jpeg corrupted photo of a {}.',
        'a blurry photo of the {}.',
        'a photo of the {}.',
        'a good photo of the {}.',
        'a rendering of the {}.',
        'a {} in a video game.',
        'a photo of one {}.',
        'a doodle of a {}.',
        'a close-up photo of the {}.',
        'a photo of a {}.',
        'the origami {}.',
        'the {} in a video game.',
        'a sketch of a {}.',
        'a doodle of the {}.',
        'a origami {}.',
        'a low resolution photo of a {}.',
        'the toy {}.',
        'a rendition of the {}.',
        'a photo of the clean {}.',
        'a photo of a large {}.',
        'a rendition of a {}.',
        'a photo of a nice {}.',
        'a photo of a weird {}.',
        'a blurry photo of a {}.',
        'a cartoon {}.',
        'art of a {}.',
        'a sketch of the {}.',
        'a embroidered {}.',
        'a pixelated photo of a {}.',
        'itap of the {}.',
        'a jpeg corrupted photo of the {}.',
        'a good photo of a {}.',
        'a plushie {}.',
        'a photo of the nice {}.',
        'a photo of the small {}.',
        'a photo of the weird {}.',
        'the cartoon {}.',
        'art of the {}.',
        'a drawing of the {}.',
        'a photo of the large {}.',
        'a black and white photo of a {}.',
        'the plushie {}.',
        'a dark photo of a {}.',
        'itap of a {}.',
        'graffiti of the {}.',
        'a toy {}.',
        'itap of my {}.',
        'a photo of a cool {}.',
        'a photo of a small {}.',
        'a tattoo of the {}.',
    ],
    'imagenet-simple': [
        'itap of a {}.',
        'a bad photo of the {}.',
        'a origami {}.',
        'a photo of the large {}.',
        'a {} in a video game.',
        'art of the {}.',
        'a photo of the small {}.',
    ],
    'synthetic-world': [
        'a photo of a {}.',
        'a picture of a {}.',
        'an image showing a {}.',
        'a {} on a noisy background.',
        'a drawing of a {}.',
    ],
    'identity': ['{}'],
}


def get_templates(templates: Union[str, Sequence[str]]) -> List[str]:
    """Resolve a template set by name, or validate a list of templates.

    Args:
        templates (str | Sequence[str]): A name in :data:`TEMPLATES` or
            templates that each contain ``{}`` once.

    Returns:
        list[str]: The templates.
    """
    if isinstance(templates, str):
        if templates not in TEMPLATES:
            raise KeyError(f'Unknown template set {templates!r}; known: '
                           f'{sorted(TEMPLATES)} (or give a list of strings '
                           'containing "{}").')
        return list(TEMPLATES[templates])
    templates = list(templates)
    bad = [t for t in templates if t.count('{}') != 1]
    if not templates or bad:
        raise ValueError('Every prompt template must contain "{}" exactly '
                         f'once; got {bad or templates!r}.')
    return templates
