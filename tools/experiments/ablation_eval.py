"""Evaluation of one trained ablation model on the synthetic world.

Every metric reuses :mod:`icar_mm.evaluation` (feature extraction,
zero-shot, linear probe / few-shot, retrieval); this module only builds the
evaluation sets:

* ``seen``: independent images of the 26 seen (training) classes
  (``SyntheticWorldClsDataset`` split ``'val'``), scored with the model's own
  classification head, or zero-shot with the described seen class texts for
  a model without head (CLIP);
* ``heldout``: the 10 held-out compositions (split ``'heldout'``), zero-shot
  with names only and with ``"name, description"`` class texts;
* ``texture_size``: a second task whose labels differ from pretraining:
  the texture (plain / striped / dotted) x size (small / large) of the
  object, 6 classes, over scenes of all 36 (colour, shape) classes. No
  pretraining label names a texture or a size; captions sometimes do.
  Linear probe and K-shot probes on frozen backbone features;
* ``retrieval``: held-out image-caption pairs (a caption seed never used in
  training), R@1 in both directions.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

import icar_mm  # noqa: F401  (stack fixes before mmpretrain's import)
from mmpretrain.datasets import BaseDataset  # noqa: E402

from icar_mm.datasets.synthetic_world import SyntheticWorld
from icar_mm.evaluation import (extract_features, few_shot_evaluate,
                                linear_probe, split_validation,
                                zero_shot_metrics)
from icar_mm.evaluation.benchmark import synthetic_world_spec, vocabularies
from icar_mm.evaluation.features import build_dataloader
from icar_mm.evaluation.functional import classification_metrics
from icar_mm.evaluation.retrieval import evaluate_retrieval
from icar_mm.class_texts import ClassTextBank
from icar_mm.registry import DATASETS

#: Labels of the second task: (texture, size) in this order.
TEXTURE_SIZE_CLASSES = tuple(f'{t} {s}' for t in ('plain', 'striped',
                                                  'dotted')
                             for s in ('small', 'large'))

#: Default sizes of the evaluation sets (images per class / pairs).
DEFAULT_EVAL_SIZES = dict(seen=20, heldout=40, task_train=10, task_test=10,
                          retrieval=500)


class _InMemoryDataset(BaseDataset):
    """Pre-rendered samples behind an mmpretrain pipeline."""

    def __init__(self, data_list: List[dict], classes: Sequence[str] = (),
                 pipeline: Sequence = (dict(type='PackInputs'), )) -> None:
        self._samples = data_list
        super().__init__(ann_file='', metainfo=dict(classes=tuple(classes)),
                         pipeline=list(pipeline))

    def load_data_list(self) -> List[dict]:
        return self._samples


def texture_size_dataset(world: SyntheticWorld, num_per_class: int,
                         stream: str) -> BaseDataset:
    """The second task: texture x size of the main object (6 classes).

    Args:
        world (SyntheticWorld): The world (its image size is used).
        num_per_class (int): Scenes per (colour, shape) class (36 classes);
            the texture and size are drawn uniformly by the world, and
            every label keeps as many scenes as the rarest one has.
        stream (str): Random stream tag (``'train'`` / ``'test'``).

    Returns:
        BaseDataset: Packed samples with ``gt_label`` in 0..5.
    """
    by_label: List[List[dict]] = [[] for _ in TEXTURE_SIZE_CLASSES]
    for scene, _ in world.classification_scenes(
            'all', num_per_class, seed=11, stream=f'texture_size_{stream}'):
        obj = scene['objects'][0]
        by_label[TEXTURE_SIZE_CLASSES.index(
            f"{obj['texture']} {obj['size']}")].append(scene)
    # balanced: as many scenes per label as the rarest label has
    per_label = min(len(scenes) for scenes in by_label)
    samples = []
    for i in range(per_label):
        for label, scenes in enumerate(by_label):
            img = world.render(scenes[i])['img']
            samples.append(dict(img=img, gt_label=label,
                                img_shape=img.shape[:2],
                                ori_shape=img.shape[:2]))
    return _InMemoryDataset(samples, TEXTURE_SIZE_CLASSES)


def caption_retrieval_dataset(world: SyntheticWorld, num: int,
                              seed: int = 7) -> BaseDataset:
    """Image-caption pairs for retrieval (one caption per image).

    ``seed`` 7 is never used by the training caption stream (seed 1).
    """
    pairs = world.caption_scenes(num, seed=seed)
    images = [world.render(scene)['img'] for scene, _ in pairs]
    dataset = _InMemoryDataset([
        dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        for img in images
    ])
    dataset.captions = [cap for _, cap in pairs]
    dataset.caption_image = list(range(len(pairs)))
    # the (colour, shape) class of each image's main object (analysis)
    dataset.image_classes = [
        world.class_id(scene['objects'][0]['colour'],
                       scene['objects'][0]['shape']) for scene, _ in pairs]
    return dataset


def _cls_dataset(world_cfg: dict, split: str, num_per_class: int,
                 seed: int) -> BaseDataset:
    return DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split=split,
             num_per_class=num_per_class, world=world_cfg, seed=seed,
             pipeline=[dict(type='PackInputs')]))


@torch.no_grad()
def _head_scores(model, feats: np.ndarray, batch_size: int = 256
                 ) -> np.ndarray:
    """Scores of the model's own classification head on backbone features."""
    out = []
    for i in range(0, len(feats), batch_size):
        x = torch.as_tensor(feats[i:i + batch_size])
        samples = model.predict_from_feats(x)
        out.append(torch.stack([s.pred_score for s in samples]).numpy())
    return np.concatenate(out)


def evaluate_model(model,
                   world_cfg: dict,
                   sizes: Optional[Dict[str, int]] = None,
                   shots: Sequence[int] = (1, 4),
                   probe_seeds: Sequence[int] = (0, 1, 2),
                   batch_size: int = 128) -> Dict[str, object]:
    """Every ablation metric of one model (percentages).

    Args:
        model (ICAR): The trained model.
        world_cfg (dict): ``SyntheticWorld`` kwargs of the training data.
        sizes (dict, optional): Overrides of :data:`DEFAULT_EVAL_SIZES`.
        shots (Sequence[int]): K of the few-shot probes.
        probe_seeds (Sequence[int]): Seeds of the few-shot draws.
        batch_size (int): Inference batch size.

    Returns:
        dict: ``metrics`` (flat ``name -> value or None`` when the model
        cannot be scored that way, e.g. zero-shot without text tower),
        ``details`` (the full outputs of the evaluation functions) and
        ``seen_protocol`` (``'head'`` or ``'zero-shot'``).
    """
    sizes = {**DEFAULT_EVAL_SIZES, **(sizes or {})}
    unknown = set(sizes) - set(DEFAULT_EVAL_SIZES)
    if unknown:
        raise ValueError(f'unknown evaluation set(s) {sorted(unknown)}; '
                         f'choose from {sorted(DEFAULT_EVAL_SIZES)}')
    model.eval()
    world = SyntheticWorld(**world_cfg)
    has_text = model.text_encoder is not None
    metrics: Dict[str, Optional[float]] = {}
    details: Dict[str, object] = {}

    def loader(dataset):
        return build_dataloader(dataset, batch_size)

    # 1. seen classes
    seen = _cls_dataset(world_cfg, 'val', sizes['seen'], 0)
    if model.cls_head is not None:
        feats, labels = extract_features(model, loader(seen), 'backbone')
        scores = _head_scores(model, feats)
        seen_protocol = 'head'
    else:
        embeds, labels = extract_features(model, loader(seen), 'embedding')
        bank = ClassTextBank(source=dict(type='synthetic_world',
                                         split='seen'),
                             templates='synthetic-world')
        from icar_mm.evaluation.zero_shot import zero_shot_logits
        scores = zero_shot_logits(model, embeds, bank)
        seen_protocol = 'zero-shot'
    details['seen'] = classification_metrics(scores, labels)
    metrics['seen_top1'] = details['seen']['top1']

    # 2. zero-shot on the held-out compositions
    metrics['zs_names'] = metrics['zs_described'] = None
    if has_text:
        held = _cls_dataset(world_cfg, 'heldout', sizes['heldout'], 2)
        embeds, labels = extract_features(model, loader(held), 'embedding')
        spec = synthetic_world_spec(dict(world=world_cfg))
        details['heldout'] = {}
        for vname, bank in vocabularies(spec, descriptions='synthetic',
                                        names_only=True).items():
            m = zero_shot_metrics(model, embeds, labels, bank, 'top1')
            details['heldout'][vname] = m
            metrics[f'zs_{vname}'] = m['top1']

    # 3. second task: linear probe and few-shot on backbone features
    train = extract_features(
        model, loader(texture_size_dataset(world, sizes['task_train'],
                                           'train')), 'backbone')
    test = extract_features(
        model, loader(texture_size_dataset(world, sizes['task_test'],
                                           'test')), 'backbone')
    n_cls = len(TEXTURE_SIZE_CLASSES)
    tr, va = split_validation(train[1])
    lp = linear_probe((train[0][tr], train[1][tr]),
                      (train[0][va], train[1][va]), test, n_cls, 'top1')
    details['linear_probe'] = dict(score=lp['score'], C=lp['C'],
                                   val_score=lp['val_score'])
    metrics['linear_probe'] = lp['score']
    fs = few_shot_evaluate(train, test, n_cls, shots, probe_seeds, 'top1')
    details['few_shot'] = {
        k: dict(mean=v['mean'], std=v['std'], scores=v['scores'])
        for k, v in fs.items()
    }
    for k, v in fs.items():
        metrics[f'few_shot_{k}'] = v['mean']

    # 4. image-text retrieval
    metrics['retrieval_r1'] = None
    if has_text:
        r = evaluate_retrieval(
            model, caption_retrieval_dataset(world, sizes['retrieval']),
            batch_size, ks=(1, 5))
        details['retrieval'] = r
        metrics['retrieval_r1'] = (r['i2t_R@1'] + r['t2i_R@1']) / 2
    return dict(metrics=metrics, details=details,
                seen_protocol=seen_protocol)
