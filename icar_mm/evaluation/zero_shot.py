"""Zero-shot classification of pre-computed image embeddings."""
from typing import Dict, Optional, Union

import numpy as np
import torch

from icar_mm.class_texts import ClassTextBank, build_class_text_bank
from .features import _unwrap
from .functional import classification_metrics


@torch.no_grad()
def zero_shot_logits(model, embeds: np.ndarray,
                     vocabulary: Union[ClassTextBank, Dict]) -> np.ndarray:
    """Scaled cosines of image embeddings against a vocabulary.

    The class weights are the model's cached template ensemble
    (:meth:`TextClassifier.ensemble`), exactly what :meth:`ICAR.classify`
    uses.

    Args:
        model (ICAR): A model with a text encoder.
        embeds (np.ndarray): ``(N, D)`` image embeddings
            (:func:`extract_features` with ``kind='embedding'``).
        vocabulary (ClassTextBank | dict): The classes.

    Returns:
        np.ndarray: ``(N, C)`` logits.
    """
    model = _unwrap(model)
    classifier = model.text_classifier
    if classifier is None:
        raise ValueError('Zero-shot evaluation needs a model with a text '
                         'encoder.')
    bank = build_class_text_bank(vocabulary)
    was_training = model.training
    model.eval()
    feats = torch.as_tensor(embeds).to(next(model.parameters()).device)
    logits, _ = classifier(feats, class_texts=bank)
    model.train(was_training)
    return logits.float().cpu().numpy()


def zero_shot_metrics(model,
                      embeds: np.ndarray,
                      targets: np.ndarray,
                      vocabulary: Union[ClassTextBank, Dict],
                      protocol: Optional[str] = None) -> Dict[str, float]:
    """Metrics of zero-shot classification (see :mod:`.functional`).

    Returns:
        dict: ``top1``/``top5``/``mean_per_class`` or ``map11``, and
        ``score`` (the metric of ``protocol``) when it is given.
    """
    logits = zero_shot_logits(model, embeds, vocabulary)
    metrics = classification_metrics(logits, targets)
    if protocol is not None:
        metrics['score'] = metrics[protocol]
    return metrics
