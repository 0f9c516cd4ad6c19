"""Class texts: what iCAR's text encoder turns into class weights.

Data, not modules: class names, dictionary descriptions and prompt templates,
below both :mod:`icar_mm.models` and :mod:`icar_mm.datasets`.

* :mod:`.bank`: :class:`ClassTextBank`, the class list of a classifier;
* :mod:`.sources`: where classes come from (registered sources such as
  ``imagenet-22k``, class-text files);
* :mod:`.wordnet`: the one reader of timm's WordNet files;
* :mod:`.descriptions`: CLIP's benchmark class names with descriptions;
* :mod:`.templates`: prompt template sets by name;
* :mod:`.clip_prompts`: CLIP's published class names and templates (data).
"""
from .bank import ClassTextBank, build_class_text_bank
from .descriptions import benchmark_class_texts
from .sources import (ClassText, check_unique_classes, imagenet_class_texts,
                      load_class_text_file, load_class_text_source)
from .templates import get_templates, register_templates, template_set_names
from .wordnet import gloss_of_name, imagenet_synsets, name_key

__all__ = [
    'ClassText', 'ClassTextBank', 'benchmark_class_texts',
    'build_class_text_bank', 'check_unique_classes', 'get_templates',
    'gloss_of_name', 'imagenet_class_texts', 'imagenet_synsets',
    'load_class_text_file', 'load_class_text_source', 'name_key',
    'register_templates', 'template_set_names'
]
