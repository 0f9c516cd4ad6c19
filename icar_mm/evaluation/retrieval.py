"""Image-text retrieval (COCO / Flickr30K Karpathy test, R@1/5/10)."""
from typing import Dict, List, Sequence

import numpy as np
import torch

from .features import _unwrap, build_dataloader
from .functional import retrieval_recall


@torch.no_grad()
def encode_texts(model, texts: List[str], batch_size: int = 256
                 ) -> np.ndarray:
    """Normalised text embeddings of the model's text encoder."""
    model = _unwrap(model)
    encoder = model.text_encoder
    was_training = encoder.training
    encoder.eval()
    out = [
        encoder(texts[i:i + batch_size]).float().cpu().numpy()
        for i in range(0, len(texts), batch_size)
    ]
    encoder.train(was_training)
    return np.concatenate(out)


@torch.no_grad()
def evaluate_retrieval(model, dataset, batch_size: int = 64,
                       ks: Sequence[int] = (1, 5, 10)) -> Dict[str, float]:
    """R@K both ways on a dataset with ``captions`` and ``caption_image``.

    Args:
        model (ICAR): A model with a text encoder.
        dataset (KarpathyRetrievalDataset): Images (pipeline ending in
            ``PackInputs``) with their captions.

    Returns:
        dict: See :func:`retrieval_recall`.
    """
    model = _unwrap(model)
    model.eval()
    image_embeds = []
    loader = build_dataloader(dataset, batch_size)
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        image_embeds.append(
            model.embed_images(data['inputs']).float().cpu().numpy())
    if loader.skipped:  # captions are matched to images by index
        raise ValueError(
            f'{len(loader.skipped)} image(s) of the retrieval set cannot be '
            f'read, e.g. {loader.skipped[0][0]} ({loader.skipped[0][1]}); '
            'retrieval needs every image of its captions: restore them.')
    image_embeds = np.concatenate(image_embeds)
    text_embeds = encode_texts(model, dataset.captions)
    return retrieval_recall(image_embeds @ text_embeds.T,
                            dataset.caption_image, ks)
