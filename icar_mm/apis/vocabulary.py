"""The classes a model scores: swap them, or get their zero-shot weights."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper

from icar_mm.class_texts import ClassTextBank, build_class_text_bank
from icar_mm.models.text import TextClassifier

Classes = Union[ClassTextBank, Dict, Sequence[Union[str, Dict]]]


def text_classifiers(model: nn.Module) -> List[TextClassifier]:
    """The text classifiers of any model (iCAR, detector, segmentor,
    recognizer), each once, in module order."""
    if is_model_wrapper(model):
        model = model.module
    return [m for m in model.modules() if isinstance(m, TextClassifier)]


def _bank(classes: Classes, templates: Union[str, Sequence[str], None],
          use_descriptions: Optional[bool]) -> Optional[ClassTextBank]:
    if classes is None or isinstance(classes, (ClassTextBank, dict)):
        if templates is not None or use_descriptions is not None:
            raise ValueError('templates / use_descriptions go with a list '
                             'of classes; a bank (config) has its own.')
        return build_class_text_bank(classes)
    return ClassTextBank(
        classes=list(classes),
        templates=templates if templates is not None else 'imagenet',
        use_descriptions=use_descriptions)


def set_vocabulary(model: nn.Module,
                   classes: Optional[Classes],
                   templates: Union[str, Sequence[str], None] = None,
                   use_descriptions: Optional[bool] = None) -> List[str]:
    """Make every text classifier of ``model`` score ``classes`` in eval
    mode (open-vocabulary / zero-shot transfer), without retraining.

    Args:
        model (nn.Module): Any model holding :class:`TextClassifier` s.
        classes: A :class:`ClassTextBank`, its config, a list of class names
            or ``dict(name, description)``, or None to return to the
            training classes.
        templates (str | Sequence[str], optional): With a list of classes:
            the template set (default ``'imagenet'``, CLIP's 80).
        use_descriptions (bool, optional): With a list of classes: use the
            descriptions (default: when every class has one).

    Returns:
        list[str]: The class names scored in eval mode.
    """
    classifiers = text_classifiers(model)
    if not classifiers:
        raise ValueError(f'{type(model).__name__} has no text classifier: '
                         'its classes are fixed.')
    bank = _bank(classes, templates, use_descriptions)
    for classifier in classifiers:
        classifier.set_vocabulary(bank)
    return list(classifiers[0].inference_classes.names)


@torch.no_grad()
def build_zero_shot_classifier(
        model: nn.Module,
        classes: Classes,
        templates: Union[str, Sequence[str], None] = None,
        use_descriptions: Optional[bool] = None) -> torch.Tensor:
    """Zero-shot class weights of ``classes``, as OpenCLIP's function of
    this name returns them: ``(D, C)``, so ``logits = scale * f @ W``.

    Each column is the normalised average of the normalised text embeddings
    of the class text in every template (the cached ensemble the model's
    text classifier scores at test time).

    Args:
        model (nn.Module): A model with a text classifier (e.g. ``ICAR``).
        classes: A :class:`ClassTextBank`, its config, or a list of names /
            ``dict(name, description)``.
        templates (str | Sequence[str], optional): With a list of classes:
            the template set (default ``'imagenet'``).
        use_descriptions (bool, optional): With a list of classes: use the
            descriptions (default: when every class has one).

    Returns:
        Tensor: ``(D, C)`` normalised class weights.
    """
    classifiers = text_classifiers(model)
    if not classifiers:
        raise ValueError(f'{type(model).__name__} has no text classifier.')
    return classifiers[0].ensemble(
        _bank(classes, templates, use_descriptions)).t()
