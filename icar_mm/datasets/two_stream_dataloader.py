"""Zip an image-label and an image-text dataloader into one iterator."""
from typing import Dict, Iterator, Optional

from torch.utils.data import DataLoader

STREAMS = ('cls', 'itc')


class _Cycle:
    """Restart a dataloader when it is exhausted (new epoch for samplers)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.epoch = 0
        self.iterator = iter(loader)

    def __next__(self):
        try:
            return next(self.iterator)
        except StopIteration:
            self.epoch += 1
            sampler = getattr(self.loader, 'sampler', None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(self.epoch)
            self.iterator = iter(self.loader)
            return next(self.iterator)


class TwoStreamDataLoader:
    """Yields ``dict(cls=batch, itc=batch)``: one batch of each stream.

    Each stream is an ordinary dataloader with its own dataset, batch size,
    sampler and workers; an absent stream (single-task baselines) is left
    out of the batch. Iteration never ends (streams restart independently),
    as iteration-based training expects.

    Args:
        loaders (dict[str, DataLoader]): ``cls`` and/or ``itc`` loaders.
    """

    def __init__(self, loaders: Dict[str, DataLoader]) -> None:
        unknown = set(loaders) - set(STREAMS)
        if unknown or not loaders:
            raise KeyError(f'train_dataloader must have "cls" and/or "itc" '
                           f'streams; got {sorted(loaders)}.')
        self.loaders = {k: loaders[k] for k in STREAMS if k in loaders}

    @property
    def dataset(self):
        """The first stream's dataset (its ``metainfo`` names the classes)."""
        return next(iter(self.loaders.values())).dataset

    @property
    def batch_size(self) -> Optional[int]:
        return next(iter(self.loaders.values())).batch_size

    def __iter__(self) -> Iterator[Dict]:
        cycles = {k: _Cycle(v) for k, v in self.loaders.items()}
        while True:
            yield {k: next(c) for k, c in cycles.items()}

    def __len__(self) -> int:
        return max(len(v) for v in self.loaders.values())
