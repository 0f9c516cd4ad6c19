"""Encode a dataset once with a frozen model; cache the features on disk."""
import hashlib
import json
import logging
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch.utils.data import DataLoader, Dataset

from icar_mm.datasets.data_health import is_bad_data_error
from .metrics.zero_shot_metric import multilabel_targets

#: ``'embedding'``: the normalised joint-space embedding (zero-shot,
#: retrieval); ``'backbone'``: backbone + neck output before the projection
#: (CLIP's linear-probe features).
FEATURE_KINDS = ('embedding', 'backbone')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _targets(sample, num_classes: Optional[int]):
    if num_classes is not None:  # multi-label
        return multilabel_targets(sample.gt_label,
                                  sample.get('gt_label_difficult'),
                                  num_classes)
    return int(sample.gt_label.reshape(-1)[0])


@torch.no_grad()
def extract_features(model,
                     dataloader,
                     kind: str = 'embedding',
                     num_classes: Optional[int] = None
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Features and targets of every sample of ``dataloader``.

    Args:
        model (ICAR): The model (switched to eval mode).
        dataloader (DataLoader): Batches of packed samples.
        kind (str): One of :data:`FEATURE_KINDS`.
        num_classes (int, optional): Set for multi-label datasets: targets
            are then ``(N, C)`` in {1, 0, -1}.

    Returns:
        tuple: ``(N, D)`` float32 features, targets ``(N,)`` or ``(N, C)``.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f'kind must be one of {FEATURE_KINDS}')
    model = _unwrap(model)
    model.eval()
    feats, targets = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        if kind == 'embedding':
            f = model.embed_images(data['inputs'])
        else:
            f = model.extract_feat(data['inputs'])
        feats.append(f.float().cpu().numpy())
        targets += [_targets(s, num_classes) for s in data['data_samples']]
    if not feats:
        raise ValueError('No readable image in the evaluation set '
                         f'({len(getattr(dataloader, "skipped", []))} '
                         'skipped).')
    return np.concatenate(feats), np.asarray(targets)


class _DropUnreadable(Dataset):
    """A dataset whose unreadable samples (missing or undecodable image
    files) come out as ``None`` with the reason, to be dropped."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        try:
            return self.dataset[idx]
        except Exception as e:  # noqa: B902
            if not is_bad_data_error(e):
                raise
            info = self.dataset.get_data_info(idx) if hasattr(
                self.dataset, 'get_data_info') else {}
            return None, (info.get('img_path', f'index {idx}'),
                          f'{type(e).__name__}: {e}')


def _collate(batch):
    good = [b for b in batch if not isinstance(b, tuple)]
    return (pseudo_collate(good) if good else None,
            [b[1] for b in batch if isinstance(b, tuple)])


class EvalDataLoader(DataLoader):
    """Ordered batches of a dataset, unreadable samples left out.

    A missing or undecodable image does not stop an evaluation: it is left
    out, counted in :attr:`skipped` (``(path, reason)``) and logged, and the
    metrics are of the readable images.
    """

    def __init__(self, dataset, **kwargs) -> None:
        super().__init__(_DropUnreadable(dataset), collate_fn=_collate,
                         shuffle=False, **kwargs)
        self.skipped = []

    def __iter__(self):
        self.skipped = []
        for batch, skipped in super().__iter__():
            self.skipped += skipped
            if batch is not None:
                yield batch
        if self.skipped:
            print_log(
                f'{len(self.skipped)} unreadable image(s) left out of the '
                f'evaluation of {type(self.dataset.dataset).__name__}: '
                + '; '.join(f'{p} ({r})' for p, r in self.skipped[:5]) +
                (' ...' if len(self.skipped) > 5 else ''),
                logger='current', level=logging.WARNING)


def build_dataloader(dataset, batch_size: int = 64,
                     num_workers: int = 0) -> EvalDataLoader:
    """A plain, ordered dataloader over a built dataset (unreadable
    samples left out and counted)."""
    return EvalDataLoader(dataset, batch_size=batch_size,
                          num_workers=num_workers)


def model_fingerprint(model) -> str:
    """A hash of the model's weights (the cache key of its features)."""
    h = hashlib.sha1()
    for name, tensor in sorted(_unwrap(model).state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        h.update(t.view(-1)[:4096].float().numpy().tobytes())
        h.update(str(tuple(t.shape)).encode())
        h.update(str(float(t.float().sum())).encode())
    return h.hexdigest()[:16]


class FeatureCache:
    """Features on disk, keyed by model weights, dataset and settings.

    ``cache_dir/<key>.npz`` holds ``feats`` and ``targets``; ``key`` hashes
    the model fingerprint with a JSON description of the data (dataset
    config, split, pipeline, feature kind), so another checkpoint, split or
    pipeline never reuses stale features.

    Args:
        cache_dir (str, optional): Folder; None disables caching.
    """

    def __init__(self, cache_dir: Optional[str]) -> None:
        self.cache_dir = cache_dir
        self.hits = 0
        self.misses = 0

    def key(self, model_key: str, description: Dict) -> str:
        text = json.dumps(description, sort_keys=True, default=str)
        return hashlib.sha1((model_key + text).encode()).hexdigest()[:24]

    def get_or_compute(self, model_key: str, description: Dict,
                       compute) -> Tuple[np.ndarray, np.ndarray]:
        if self.cache_dir is None:
            return compute()
        path = osp.join(self.cache_dir, self.key(model_key, description) +
                        '.npz')
        if osp.isfile(path):
            self.hits += 1
            with np.load(path) as data:
                return data['feats'], data['targets']
        self.misses += 1
        feats, targets = compute()
        os.makedirs(self.cache_dir, exist_ok=True)
        tmp = path[:-4] + '.tmp.npz'
        np.savez(tmp, feats=feats, targets=targets)
        os.replace(tmp, path)
        return feats, targets
