"""Bad samples are skipped, counted per source, logged with their key.

The pieces, from the data to the training log:

* datasets raise or catch :class:`BadSampleError` for an unreadable or
  truncated image, an empty caption, a cut-off shard...;
  :class:`SkipBadSamplesMixin` gives map-style datasets the skip (the next
  index is used instead, deterministically, so resumed runs stay exact) and
  the webdataset stream does the same per sample and per shard;
* each skip becomes an *event* ``(source, reason, key, detail)`` attached to
  the next sample that does come out (``sample[STATS_KEY]``), because the
  dataloader workers can only talk to the main process through the batches;
* :func:`collate_with_stats` (wrapping any collate function) moves the
  events of a batch to ``batch[STATS_KEY]``;
* :class:`~icar_mm.datasets.TwoStreamDataLoader` takes them out of the batch
  (the model never sees them) into a :class:`DataHealth`, which counts per
  source and reason, enforces the limits (:class:`TooManyBadSamplesError`)
  and keeps the events for :class:`~icar_mm.engine.hooks.DataHealthHook`,
  which logs every key and puts ``skipped_<source>`` into the training log.
"""
import copy
import logging
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS

from .transforms.loading import BadSampleError

#: Key of the data statistics in a sample dict and in a collated batch.
STATS_KEY = '__data_stats__'

#: ``(source, reason, key, detail)``
SkipEvent = Tuple[str, str, str, str]


def event_from_error(source: str, err: BaseException,
                     key: str = '') -> SkipEvent:
    """A skip event from a bad-data exception."""
    if isinstance(err, BadSampleError):
        return (source, err.reason, err.key or key, err.detail)
    if isinstance(err, FileNotFoundError):
        return (source, 'missing_file', key, str(err))
    return (source, 'bad_image', key, f'{type(err).__name__}: {err}')


def is_bad_data_error(err: BaseException) -> bool:
    """Whether an exception of a data pipeline means "this sample is bad".

    :class:`BadSampleError`; ``OSError`` (missing / unreadable file, PIL's
    truncated image); the ``AssertionError('failed to load image ...')`` of
    mmcv's ``LoadImageFromFile``. Anything else is a bug or a config error
    and must stop the run.
    """
    if isinstance(err, (BadSampleError, OSError)):
        return True
    return isinstance(err, AssertionError) and 'failed to load image' in str(
        err)


def merge_stats(stats: Iterable[Optional[dict]]) -> Optional[dict]:
    """Merge the statistics of several samples (or batches) into one.

    Lists (``skipped``, ``opened``) are concatenated, dicts of counts
    (``samples``) summed, other values (``epoch``) keep the last one.
    """
    out: dict = {}
    for st in stats:
        if not st:
            continue
        for k, v in st.items():
            if isinstance(v, list):
                out.setdefault(k, []).extend(v)
            elif isinstance(v, dict):
                acc = out.setdefault(k, {})
                for kk, n in v.items():
                    acc[kk] = acc.get(kk, 0) + n
            else:
                out[k] = v
    return out or None


_COLLATE_CACHE: Dict[str, object] = {}


def _resolve_collate(collate_fn):
    if collate_fn is None:
        collate_fn = dict(type='pseudo_collate')
    if callable(collate_fn):
        return collate_fn
    key = repr(sorted(dict(collate_fn).items(), key=lambda kv: kv[0]))
    fn = _COLLATE_CACHE.get(key)
    if fn is None:
        fn = _COLLATE_CACHE[key] = _build_collate(collate_fn)
    return fn


def _build_collate(collate_fn):
    cfg = dict(collate_fn)
    fn = cfg.pop('type')
    if isinstance(fn, str):
        fn = FUNCTIONS.get(fn)
        if fn is None:
            raise KeyError(f'Unknown collate function {collate_fn!r}.')
    if cfg:
        import functools
        fn = functools.partial(fn, **cfg)
    return fn


@FUNCTIONS.register_module()
def collate_with_stats(data_batch: Sequence[dict], collate_fn=None):
    """Collate samples, keeping their data statistics aside.

    Pops ``STATS_KEY`` from every sample, collates the rest with
    ``collate_fn`` (a callable or a FUNCTIONS config, default
    ``pseudo_collate``) and puts the merged statistics under
    ``batch[STATS_KEY]`` (only when there are any).

    Args:
        data_batch (Sequence[dict]): The samples.
        collate_fn (callable | dict, optional): The real collate function.

    Returns:
        dict: The collated batch.
    """
    stats = []
    for sample in data_batch:
        if isinstance(sample, dict) and STATS_KEY in sample:
            stats.append(sample.pop(STATS_KEY))
    batch = _resolve_collate(collate_fn)(data_batch)
    merged = merge_stats(stats)
    if merged is not None and isinstance(batch, dict):
        batch[STATS_KEY] = merged
    return batch


def pop_stats(batch) -> Optional[dict]:
    """Take the statistics out of a collated batch (None when absent)."""
    if isinstance(batch, dict):
        return batch.pop(STATS_KEY, None)
    return None


class TooManyBadSamplesError(RuntimeError):
    """Raised when a source skipped more samples than its limit allows."""


class SkipBadSamplesMixin:
    """Skip-and-count of bad samples for mmengine map-style datasets.

    Put it before ``BaseDataset`` in the bases and call
    :meth:`_init_skip` in ``__init__``. When a sample's pipeline raises a
    bad-data error (see :func:`is_bad_data_error`), the sample is replaced
    by the next index (deterministic, so a resumed run sees the same data)
    and the skip travels with the returned sample. After
    ``max_consecutive_bad`` bad samples in a row the dataset raises a clear
    error: that is a wrong path or config, not a few bad files.
    """

    def _init_skip(self, skip_bad_samples: bool, source_name: Optional[str],
                   max_consecutive_bad: int) -> None:
        self.skip_bad_samples = skip_bad_samples
        self.source_name = source_name or type(self).__name__
        self.max_consecutive_bad = max_consecutive_bad
        #: bad annotation lines skipped at load time: SkipEvent tuples
        self.load_skipped: List[SkipEvent] = []

    def _sample_key(self, idx: int) -> str:
        try:
            info = self.get_data_info(idx)
        except Exception:  # noqa: BLE001 - only for the message
            return f'index {idx}'
        return str(info.get('img_path', f'index {idx}'))

    def __getitem__(self, idx: int) -> dict:
        if not getattr(self, 'skip_bad_samples', False) or self.test_mode:
            return super().__getitem__(idx)
        if not self._fully_initialized:
            self.full_init()
        events: List[SkipEvent] = []
        n = len(self)
        for _ in range(self.max_consecutive_bad + 1):
            try:
                data = self.prepare_data(idx)
            except Exception as e:  # noqa: BLE001 - filtered below
                if not is_bad_data_error(e):
                    raise
                events.append(
                    event_from_error(self.source_name, e,
                                     self._sample_key(idx)))
                data = None
            if data is not None:
                if events:
                    data[STATS_KEY] = dict(skipped=events)
                return data
            idx = (idx + 1) % n
        last = events[-1] if events else ('', 'pipeline returned None', '',
                                          '')
        raise TooManyBadSamplesError(
            f'{type(self).__name__} ({self.source_name}): '
            f'{self.max_consecutive_bad + 1} samples in a row could not be '
            f'loaded; the last one: {last[2]} ({last[1]}'
            f'{": " + last[3] if last[3] else ""}). This '
            'is not a few bad files: check data_root / data_prefix / the '
            'annotation file and the pipeline.')


class DataHealth:
    """Counts of skipped samples per source, and the limits on them.

    Args:
        max_skipped (int, optional): Most skipped samples a source may have
            (cumulated over the run, this rank). None: no absolute limit.
        max_skipped_ratio (float, optional): Largest fraction of skipped
            among read samples of a source, checked once the source has
            read ``min_samples``, or all of itself when it is smaller (a
            map-style dataset of known size). None: no ratio limit.
            Defaults to 0.05.
        min_samples (int): Samples a source reads before the ratio limit
            applies (so that a few bad samples early on do not stop a large
            source). Defaults to 1000.

    A bad sample is counted (and logged) once, however often it comes up
    again (as a replacement, in another worker, in a later epoch): counts
    are of distinct keys. The keys seen are kept in memory only (at most
    ``max_remembered``), so after a resume a bad sample met again in a
    later epoch is counted again.
    """

    max_remembered = 1_000_000

    def __init__(self,
                 max_skipped: Optional[int] = None,
                 max_skipped_ratio: Optional[float] = 0.05,
                 min_samples: int = 1000) -> None:
        self.max_skipped = max_skipped
        self.max_skipped_ratio = max_skipped_ratio
        self.min_samples = min_samples
        self.skipped: Dict[str, Dict[str, int]] = defaultdict(dict)
        self.samples: Dict[str, int] = defaultdict(int)
        #: sizes of the sources that have one (map-style datasets)
        self.sizes: Dict[str, int] = {}
        #: events not logged yet (the hook drains them)
        self.pending: List[SkipEvent] = []
        self._last: Dict[str, SkipEvent] = {}
        self._seen: set = set()

    # ----------------------------------------------------------- counting
    def add_events(self, events: Iterable[SkipEvent]) -> None:
        """Count skip events (without checking the limits)."""
        for ev in events:
            source, reason = str(ev[0]), str(ev[1])
            ident = (source, str(ev[2]))
            if ident in self._seen:
                continue
            if len(self._seen) < self.max_remembered:
                self._seen.add(ident)
            per = self.skipped[source]
            per[reason] = per.get(reason, 0) + 1
            self.pending.append(tuple(ev))
            self._last[source] = tuple(ev)

    def add_batch(self, stats: Optional[dict], default_source: str,
                  num_samples: int) -> None:
        """Account one batch: its good samples and its skip events.

        Args:
            stats (dict, optional): ``batch[STATS_KEY]``.
            default_source (str): Source of the samples when the statistics
                do not split them per source (map-style datasets).
            num_samples (int): Good samples in the batch.
        """
        per_source = (stats or {}).get('samples')
        if per_source:
            for source, n in per_source.items():
                self.samples[source] += n
        else:
            self.samples[default_source] += num_samples
            per_source = {default_source: num_samples}
        events = (stats or {}).get('skipped') or []
        self.add_events(events)
        # a limit may be crossed by the bad samples or by the good ones that
        # complete a small source
        touched = {s for s in set(per_source) | {e[0] for e in events}
                   if self.skipped.get(s)}
        if touched:
            self.check(touched)

    def total(self, source: str) -> int:
        """Skipped samples of a source (all reasons)."""
        return sum(self.skipped.get(source, {}).values())

    def totals(self) -> Dict[str, int]:
        """Skipped samples per source."""
        return {s: self.total(s) for s in sorted(self.skipped)}

    def check(self, sources: Optional[Iterable[str]] = None) -> None:
        """Raise :class:`TooManyBadSamplesError` when a limit is exceeded."""
        for source in sorted(sources or self.skipped):
            bad = self.total(source)
            good = self.samples.get(source, 0)
            reasons = dict(sorted(self.skipped[source].items()))
            last = self._last.get(source)
            where = (f' The last one: {last[2]} ({last[1]}'
                     f'{": " + last[3] if last[3] else ""}).' if last else '')
            if self.max_skipped is not None and bad > self.max_skipped:
                raise TooManyBadSamplesError(
                    f'Data source {source!r} skipped {bad} bad samples '
                    f'{reasons}, more than max_skipped={self.max_skipped}.'
                    f'{where} Fix or filter the data (tools/'
                    'dataset_converters/verify_shards.py lists broken '
                    'samples), or raise the limit: train_cfg.data_health='
                    'dict(max_skipped=N).')
            seen = bad + good
            enough = min(self.min_samples,
                         self.sizes.get(source, self.min_samples))
            if (self.max_skipped_ratio is not None and seen >= enough
                    and bad > self.max_skipped_ratio * seen):
                raise TooManyBadSamplesError(
                    f'Data source {source!r} skipped {bad} of {seen} samples '
                    f'({bad / seen:.1%}) {reasons}, more than '
                    f'max_skipped_ratio={self.max_skipped_ratio:.1%}.{where} '
                    'Fix or filter the data, or raise the limit: train_cfg.'
                    'data_health=dict(max_skipped_ratio=R).')

    def drain(self, limit: Optional[int] = None) -> Tuple[List[SkipEvent],
                                                          int]:
        """Take the events not logged yet: (first ``limit`` ones, rest)."""
        events, self.pending = self.pending, []
        if limit is None or len(events) <= limit:
            return events, 0
        return events[:limit], len(events) - limit

    # -------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return dict(
            skipped={k: dict(v) for k, v in self.skipped.items()},
            samples=dict(self.samples))

    def load_state_dict(self, state: dict) -> None:
        self.skipped = defaultdict(dict, copy.deepcopy(state.get(
            'skipped', {})))
        self.samples = defaultdict(int, state.get('samples', {}))


def log_events(events: Sequence[SkipEvent], dropped: int = 0,
               logger='current') -> None:
    """Log skipped samples with their key, one line each."""
    for source, reason, key, detail in events:
        print_log(
            f'Skipped a bad sample of {source!r} ({reason}): {key}'
            + (f' -- {detail}' if detail else ''),
            logger=logger,
            level=logging.WARNING)
    if dropped:
        print_log(
            f'... and {dropped} more skipped samples (counted, not listed).',
            logger=logger,
            level=logging.WARNING)
