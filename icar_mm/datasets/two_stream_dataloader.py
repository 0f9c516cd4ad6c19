"""Zip an image-label and an image-text dataloader into one iterator."""
import random
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from torch.utils.data import DataLoader, IterableDataset

from .data_health import DataHealth, pop_stats

STREAMS = ('cls', 'itc')
RATIO_MODES = ('joint', 'alternate', 'random')


class _Cycle:
    """Restart a dataloader when it is exhausted (new epoch)."""

    def __init__(self, loader: DataLoader, epoch: int = 0) -> None:
        self.loader = loader
        self.epoch = epoch
        self._set_epoch(epoch)
        self.iterator = iter(loader)

    def _set_epoch(self, epoch: int) -> None:
        for obj in (getattr(self.loader, 'sampler', None),
                    getattr(self.loader, 'dataset', None)):
            if obj is not None and hasattr(obj, 'set_epoch'):
                obj.set_epoch(epoch)

    def __next__(self):
        try:
            return next(self.iterator)
        except StopIteration:
            self.epoch += 1
            self._set_epoch(self.epoch)
            self.iterator = iter(self.loader)
            try:
                return next(self.iterator)
            except StopIteration:
                raise RuntimeError(
                    f'The dataloader of {self.loader.dataset!r} yields no '
                    'batch in a whole epoch (empty dataset, or fewer shards '
                    'than ranks x workers?).') from None


def stream_schedule(ratio: Optional[Dict[str, float]], mode: str,
                    streams: Sequence[str], seed: int = 0):
    """A function ``iteration -> streams present in that iteration``.

    Args:
        ratio (dict, optional): Relative frequency of each stream, e.g.
            ``dict(cls=1, itc=4)``. None: every stream every iteration.
        mode (str): How the ratio is applied:

            * ``'joint'``: an iteration holds one batch of each stream that
              is due; the most frequent streams are in every iteration and
              a stream of weight ``w`` is in ``w`` of every ``max(ratio)``
              iterations, evenly spread (``cls=1, itc=4``: a
              classification batch every 4th iteration, an image-text batch
              in every one);
            * ``'alternate'``: an iteration holds one stream; in every
              ``sum(ratio)`` iterations stream ``s`` comes ``ratio[s]``
              times, evenly interleaved (``cls=1, itc=4``: 1 classification
              step per 4 image-text steps);
            * ``'random'``: an iteration holds one stream, drawn with
              probability ``ratio[s] / sum(ratio)`` (seeded by the
              iteration, so resumed runs draw the same).
        streams (Sequence[str]): The streams that exist.
        seed (int): Seed of the ``'random'`` mode.

    Returns:
        callable: ``schedule(it) -> tuple of stream names``.
    """
    streams = tuple(streams)
    if mode not in RATIO_MODES:
        raise ValueError(f'ratio_mode must be one of {RATIO_MODES}, got '
                         f'{mode!r}.')
    if ratio is None or len(streams) == 1:
        if mode == 'joint' or len(streams) == 1:
            return lambda it: streams
        ratio = {s: 1 for s in streams}
    unknown = set(ratio) - set(streams)
    if unknown or set(streams) - set(ratio):
        raise ValueError(f'stream_ratio must give a weight to each stream '
                         f'{list(streams)}; got {dict(ratio)}.')
    weights = {s: float(ratio[s]) for s in streams}
    if any(w <= 0 for w in weights.values()):
        raise ValueError(f'stream_ratio weights must be positive: {ratio}.')

    if mode == 'random':
        total = sum(weights.values())

        def random_schedule(it: int):
            r = random.Random(f'{seed}-stream-{it}').random() * total
            for s in streams:
                r -= weights[s]
                if r < 0:
                    return (s, )
            return (streams[-1], )

        return random_schedule

    if any(w != int(w) for w in weights.values()):
        raise ValueError(f'stream_ratio weights must be integers in '
                         f'{mode!r} mode (use ratio_mode="random" for real '
                         f'weights): {ratio}.')
    ints = {s: int(w) for s, w in weights.items()}
    if mode == 'joint':
        period = max(ints.values())

        def fires(s: str, t: int) -> bool:
            # evenly spread: w firings in a period, the last slot always
            return (t + 1) * ints[s] // period > t * ints[s] // period

        table = [
            tuple(s for s in streams if fires(s, t)) for t in range(period)
        ]
    else:  # alternate: smooth interleaving of sum(w) slots
        period = sum(ints.values())
        credit = {s: 0 for s in streams}
        table = []
        for _ in range(period):
            for s in streams:
                credit[s] += ints[s]
            best = max(streams, key=lambda s: credit[s])
            credit[best] -= period
            table.append((best, ))
    return lambda it: table[it % period]


class TwoStreamDataLoader:
    """Yields ``dict(cls=batch, itc=batch)``: one batch of each stream.

    Each stream is an ordinary dataloader with its own dataset, batch size,
    sampler and workers (or a streamed webdataset that batches in its
    workers); an absent stream (single-task baselines) is left out of the
    batch. Iteration never ends (streams restart independently), as
    iteration-based training expects. ``stream_ratio`` / ``ratio_mode``
    make some iterations hold only some streams (:func:`stream_schedule`).

    The data statistics that batches carry (skipped bad samples, shards
    read) are taken out of the batches here, counted in :attr:`health` and
    passed to streamed datasets (their resume point).

    Args:
        loaders (dict[str, DataLoader]): ``cls`` and/or ``itc`` loaders.
        stream_ratio (dict, optional): Relative frequency of the streams.
        ratio_mode (str): ``'joint'``, ``'alternate'`` or ``'random'``.
            Defaults to ``'joint'``.
        seed (int): Seed of the ``'random'`` schedule. Defaults to 0.
        health (DataHealth, optional): Where skipped samples are counted.
    """

    def __init__(self,
                 loaders: Dict[str, DataLoader],
                 stream_ratio: Optional[Dict[str, float]] = None,
                 ratio_mode: str = 'joint',
                 seed: int = 0,
                 health: Optional[DataHealth] = None) -> None:
        unknown = set(loaders) - set(STREAMS)
        if unknown or not loaders:
            raise KeyError(f'train_dataloader must have "cls" and/or "itc" '
                           f'streams; got {sorted(loaders)}.')
        self.loaders = {k: loaders[k] for k in STREAMS if k in loaders}
        self.schedule = stream_schedule(stream_ratio, ratio_mode,
                                        list(self.loaders), seed)
        self.stream_ratio = stream_ratio
        self.ratio_mode = ratio_mode
        self.health = health if health is not None else DataHealth()
        #: called once the consumed batches of a resumed run were drawn
        #: again, before the first resumed batch (random states go there)
        self.before_resumed_batch: Optional[Callable[[], None]] = None
        self._start_iter = 0
        self._cycles: Dict[str, _Cycle] = {}
        for name, loader in self.loaders.items():
            if not self.is_streamed(name) and _safe_len(loader.dataset):
                self.health.sizes[self._source(name)] = _safe_len(
                    loader.dataset) + len(
                        getattr(loader.dataset, 'load_skipped', None) or [])
            events = getattr(loader.dataset, 'load_skipped', None) or []
            if events:
                # annotation lines left out at load time count as read
                self.health.add_events(events)
                for source in {e[0] for e in events}:
                    self.health.samples[source] += _safe_len(loader.dataset)
                self.health.check({e[0] for e in events})

    @property
    def dataset(self):
        """The first stream's dataset (its ``metainfo`` names the classes)."""
        return next(iter(self.loaders.values())).dataset

    @property
    def batch_size(self) -> Optional[int]:
        loader = next(iter(self.loaders.values()))
        if loader.batch_size is None:
            return getattr(loader.dataset, 'batch_size', None)
        return loader.batch_size

    def is_streamed(self, name: str) -> bool:
        """Whether a stream is an iterable (webdataset) stream."""
        return isinstance(self.loaders[name].dataset, IterableDataset)

    def _source(self, name: str) -> str:
        return str(
            getattr(self.loaders[name].dataset, 'source_name', None) or name)

    def _absorb(self, name: str, batch) -> None:
        stats = pop_stats(batch)
        dataset = self.loaders[name].dataset
        if self.is_streamed(name) and hasattr(dataset, 'record'):
            dataset.record(stats)
        n = _batch_len(batch)
        self.health.add_batch(stats, self._source(name), n)

    def batches_before(self, name: str, iteration: int) -> int:
        """Batches a stream delivered in iterations ``0..iteration-1``."""
        return sum(name in self.schedule(t) for t in range(iteration))

    def resume(self, iteration: int) -> None:
        """Make the next iteration of ``iter(self)`` be ``iteration``.

        Map-style streams are advanced by the batches they delivered before
        ``iteration`` (decoded again, so augmentation random states match an
        uninterrupted run exactly); streamed datasets continue from the
        state their checkpoint restored (``load_state_dict``) instead.
        """
        self._start_iter = iteration

    def __iter__(self) -> Iterator[Dict]:
        it = self._start_iter
        cycles = {
            k: _Cycle(v, getattr(v.dataset, 'epoch', 0)
                      if self.is_streamed(k) else 0)
            for k, v in self.loaders.items()
        }
        self._cycles = cycles
        if it > 0:
            for name, cycle in cycles.items():
                if self.is_streamed(name):
                    continue
                for _ in range(self.batches_before(name, it)):
                    batch = next(cycle)
                    pop_stats(batch)  # counted before the checkpoint
            if self.before_resumed_batch is not None:
                self.before_resumed_batch()
        while True:
            batch = {}
            for name in self.schedule(it):
                b = next(cycles[name])
                self._absorb(name, b)
                batch[name] = b
            it += 1
            yield batch

    def __len__(self) -> int:
        lengths: List[int] = []
        for loader in self.loaders.values():
            try:
                lengths.append(len(loader))
            except TypeError:  # streamed dataset of unknown length
                continue
        if not lengths:
            raise TypeError('No stream of this TwoStreamDataLoader has a '
                            'length.')
        return max(lengths)

    # -------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """The health counters and every streamed dataset's position."""
        streams = {}
        for name, loader in self.loaders.items():
            ds = loader.dataset
            if self.is_streamed(name) and hasattr(ds, 'state_dict'):
                streams[name] = ds.state_dict()
        return dict(health=self.health.state_dict(), streams=streams)

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (before iterating)."""
        if state.get('health'):
            self.health.load_state_dict(state['health'])
        for name, st in (state.get('streams') or {}).items():
            if name in self.loaders and self.is_streamed(name):
                ds = self.loaders[name].dataset
                if hasattr(ds, 'load_state_dict'):
                    ds.load_state_dict(st)


def _safe_len(dataset) -> int:
    try:
        return len(dataset)
    except TypeError:
        return 0


def _batch_len(batch) -> int:
    if isinstance(batch, dict):
        for key in ('data_samples', 'inputs'):
            value = batch.get(key)
            if value is not None:
                try:
                    return len(value)
                except TypeError:
                    continue
    return 0


__all__ = ['STREAMS', 'RATIO_MODES', 'TwoStreamDataLoader', 'stream_schedule']
