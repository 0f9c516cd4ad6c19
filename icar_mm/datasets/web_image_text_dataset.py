"""Image-text pairs streamed from webdataset tar shards (LAION-style).

The shards are what img2dataset and OpenCLIP users have: ``key.jpg`` (or
png/jpeg/webp) + ``key.txt`` and/or ``key.json`` per sample. Reading uses
the ``webdataset`` package (``gopen``, ``tar_file_iterator``,
``group_by_keys``); this module adds what iCAR training needs around it:

* **splitting without duplicates**: each epoch the shard list is shuffled
  with a seed shared by all ranks, then dealt to ranks (``shards[rank::
  world]``) and to the dataloader workers of each rank, so every sample is
  read exactly once per epoch;
* **resampling** (LAION scale): shards are drawn with replacement, with
  an independent random stream per rank and worker; an epoch is
  ``epoch_samples`` samples (global);
* **several sources with weights**: each sample is drawn from a source with
  probability proportional to its weight (a source that runs out leaves
  the mix for the rest of the epoch);
* **bad data**: an unreadable or truncated image, a missing or empty
  caption, an unreadable or cut-off shard are skipped, counted per source
  and reported with their key (see :mod:`icar_mm.datasets.data_health`);
* **resume**: the main process records which shards the consumed batches
  came from; a resumed run skips those shards for the rest of the epoch
  (nothing consumed is read twice; the unconsumed rest of the shards that
  were open at the checkpoint waits for the next epoch), or continues a
  resampled epoch with the samples it still had to deliver.

Batches are formed inside the workers (as OpenCLIP does); the training loop
moves the dataloader's ``batch_size`` into the dataset and builds the
dataloader with ``batch_size=None`` and no sampler.
"""
import copy
import json
import logging
import math
import multiprocessing as mp
import random
import tarfile
from typing import Dict, Iterator, List, Optional, Sequence, Union

from mmengine.dataset import Compose
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info

from icar_mm.registry import DATASETS, TRANSFORMS
from .data_health import (STATS_KEY, SkipEvent, TooManyBadSamplesError,
                          event_from_error, is_bad_data_error)
from .transforms.loading import BadSampleError
from .webdataset_utils import Urls, expand_urls

_LOADERS = ('LoadImageFromFile', 'mmcv.LoadImageFromFile', 'LoadImageChecked',
            'mmpretrain.LoadImageFromFile')


def _split_exts(exts: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(exts, str):
        exts = exts.split(';')
    return [e.strip().lstrip('.').lower() for e in exts if e.strip()]


class _Source:
    """One shard set of the mix."""

    def __init__(self, name: str, urls: List[str], weight: float) -> None:
        if not urls:
            raise ValueError(f'Image-text source {name!r} has no shards.')
        if weight <= 0:
            raise ValueError(f'Image-text source {name!r}: weight must be '
                             f'positive, got {weight}.')
        self.name = name
        self.urls = urls
        self.weight = float(weight)


class _WorkerState:
    """What one worker has to tell the main process with its next batch."""

    def __init__(self, max_consecutive_bad: int) -> None:
        self.events: List[SkipEvent] = []
        self.opened: List[tuple] = []
        self.consecutive_bad = 0
        self.max_consecutive_bad = max_consecutive_bad

    def skip(self, event: SkipEvent) -> None:
        self.events.append(event)
        self.consecutive_bad += 1
        if self.consecutive_bad > self.max_consecutive_bad:
            recent = '; '.join(f'{e[2]} ({e[1]}: {e[3]})'
                               for e in self.events[-3:])
            raise TooManyBadSamplesError(
                f'{self.consecutive_bad} image-text samples/shards in a row '
                f'could not be read (source {event[0]!r}); the last ones: '
                f'{recent}. This is not a few bad files: check the shard '
                'URLs, `image_ext` / `caption_ext` and the pipeline.')

    def good(self) -> None:
        self.consecutive_bad = 0

    def take(self, epoch: int, sources: List[str]) -> dict:
        samples: Dict[str, int] = {}
        for name in sources:
            samples[name] = samples.get(name, 0) + 1
        stats = dict(
            skipped=self.events,
            opened=self.opened,
            samples=samples,
            epoch=epoch)
        self.events, self.opened = [], []
        return stats


class _TailReader:
    """A read-through file wrapper that remembers the size and the tail.

    ``tarfile`` in stream mode takes a tar cut off inside a header for the
    end of the archive; a complete tar ends with two zero blocks, which
    :meth:`complete` checks after the members were read.
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.size = 0
        self.head = b''
        self.tail = b''

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        if data:
            if len(self.head) < 2:
                self.head = (self.head + data)[:2]
            self.size += len(data)
            self.tail = (self.tail + data)[-1024:]
        return data

    def complete(self) -> bool:
        """Whether the archive ended with its end-of-archive marker."""
        if self.head == b'\x1f\x8b':  # gzip: truncation raises EOFError
            return True
        while self.read(1 << 16):  # the padding after the marker
            pass
        return self.size % 512 == 0 and self.tail == bytes(1024)

    def close(self) -> None:
        self.stream.close()


def _buffer_shuffle(samples: Iterator, bufsize: int, initial: int,
                    rng: random.Random) -> Iterator:
    """Shuffle a stream through a buffer (webdataset's ``shuffle``)."""
    buf: List = []
    initial = max(1, min(initial, bufsize))
    for sample in samples:
        buf.append(sample)
        if len(buf) < bufsize:
            if len(buf) < initial:
                continue
        k = rng.randrange(len(buf))
        buf[k], buf[-1] = buf[-1], buf[k]
        yield buf.pop()
    rng.shuffle(buf)
    yield from buf


@DATASETS.register_module()
class WebImageTextDataset(IterableDataset):
    """Image-text pairs from webdataset shards, batched in the workers.

    Args:
        urls (str | Sequence[str], optional): The shard set of a single
            source: ``'shards/{000000..000099}.tar'``, patterns joined by
            ``::``, or a list.
        sources (Sequence[dict], optional): Several shard sets instead of
            ``urls``: ``dict(urls=..., weight=1.0, name=None)`` each.
        data_root (str): Prefix of relative local shard paths.
        name (str, optional): Source name of ``urls`` in the logs; defaults
            to ``'webdataset'`` (``'source<i>'`` in ``sources``).
        image_ext (str | Sequence[str]): Image extensions, first present
            wins. Defaults to ``'jpg;jpeg;png;webp'`` (OpenCLIP's).
        caption_ext (str | Sequence[str]): Caption extensions, first present
            wins: ``txt`` (the caption as text) or ``json`` (the caption
            under ``caption_field``). Defaults to ``'txt;json'``.
        caption_field (str): Caption key of ``.json`` files. Defaults to
            ``'caption'``.
        pipeline (Sequence[dict]): Transforms of one sample, e.g. the
            pipeline of an ``ImageTextDataset``; a leading
            ``LoadImageFromFile`` is replaced by ``LoadImageChecked`` (which
            decodes the bytes from the shard), and one is added when the
            pipeline does not start with a loader.
        batch_size (int, optional): Samples per batch; the training loop
            sets it from the dataloader config. Required for iteration.
        resampled (bool): Draw shards with replacement (LAION scale); an
            epoch is then ``epoch_samples`` samples. Defaults to False.
        epoch_samples (int, optional): Samples of an epoch over all ranks
            (resampled mode; required there).
        shuffle (bool): Shuffle shards each epoch and samples through a
            buffer. Defaults to True.
        shuffle_buffer (int): Sample shuffle buffer per worker.
            Defaults to 1000.
        shuffle_initial (int): Samples buffered before the first one comes
            out. Defaults to 100.
        partial_batches (bool): Yield a worker's last, smaller batch of an
            epoch (so that every sample is seen). Defaults to True.
        seed (int): Seed of the shard order, the sample shuffle and the
            source mix. The training loop passes the run's seed.
            Defaults to 0.
        skip_bad_samples (bool): Skip and count bad samples and shards;
            False raises on the first one. Defaults to True.
        max_consecutive_bad (int): Bad samples/shards in a row (in a
            worker) that mean a broken config. Defaults to 1000.
        rank (int, optional), world_size (int, optional): The process's
            place; defaults to the initialised process group's.
        decode_backend (str): Image decoder of the added/replacing loader,
            ``'cv2'`` or ``'pillow'``. Defaults to ``'cv2'``.
    """

    def __init__(self,
                 urls: Optional[Urls] = None,
                 sources: Optional[Sequence[Dict]] = None,
                 data_root: str = '',
                 name: Optional[str] = None,
                 image_ext: Union[str, Sequence[str]] = 'jpg;jpeg;png;webp',
                 caption_ext: Union[str, Sequence[str]] = 'txt;json',
                 caption_field: str = 'caption',
                 pipeline: Sequence = (),
                 batch_size: Optional[int] = None,
                 resampled: bool = False,
                 epoch_samples: Optional[int] = None,
                 shuffle: bool = True,
                 shuffle_buffer: int = 1000,
                 shuffle_initial: int = 100,
                 partial_batches: bool = True,
                 seed: int = 0,
                 skip_bad_samples: bool = True,
                 max_consecutive_bad: int = 1000,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None,
                 decode_backend: str = 'cv2') -> None:
        super().__init__()
        if (urls is None) == (sources is None):
            raise ValueError('WebImageTextDataset needs exactly one of '
                             '`urls` (one shard set) or `sources` (several, '
                             'with weights).')
        if sources is None:
            sources = [dict(urls=urls, name=name or 'webdataset')]
        self.sources = []
        for i, src in enumerate(sources):
            src = dict(src)
            unknown = set(src) - {'urls', 'weight', 'name'}
            if unknown or 'urls' not in src:
                raise ValueError(f'sources[{i}] must be dict(urls=..., '
                                 f'weight=1.0, name=None); got {src!r}.')
            self.sources.append(
                _Source(
                    str(src.get('name') or f'source{i}'),
                    expand_urls(src['urls'], data_root),
                    src.get('weight', 1.0)))
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f'Source names must be unique, got {names}.')
        if resampled and not epoch_samples:
            raise ValueError('resampled=True needs `epoch_samples` (the '
                             'number of samples of an epoch, all ranks).')
        self.data_root = data_root
        self.image_ext = _split_exts(image_ext)
        self.caption_ext = _split_exts(caption_ext)
        bad_ext = set(self.caption_ext) - {'txt', 'json'}
        if bad_ext:
            raise ValueError(f'caption_ext must be txt and/or json, got '
                             f'{sorted(bad_ext)}.')
        self.caption_field = caption_field
        self.batch_size = batch_size
        self.resampled = resampled
        self.epoch_samples = epoch_samples
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.shuffle_initial = shuffle_initial
        self.partial_batches = partial_batches
        self.seed = seed
        self.skip_bad_samples = skip_bad_samples
        self.max_consecutive_bad = max_consecutive_bad
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        self.pipeline_cfg = self._with_loader(list(pipeline), decode_backend)
        self.pipeline = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in self.pipeline_cfg
        ])
        # epoch shared with persistent workers (created before they start)
        self._epoch = 0
        self._shared_epoch = None
        # resume point: dict(epoch, opened=set of urls, samples=int)
        self._resume: Optional[dict] = None
        # progress of the consumed batches (main process)
        self._progress = dict(epoch=0, opened=set(), samples=0)
        self._carry: Optional[_WorkerState] = None

    # -------------------------------------------------------------- setup
    @staticmethod
    def _with_loader(pipeline: List, backend: str) -> List:
        first = pipeline[0] if pipeline else None
        ftype = first.get('type') if isinstance(first, dict) else None
        loader = dict(type='LoadImageChecked', imdecode_backend=backend)
        if ftype in _LOADERS:
            for key in ('to_float32', 'color_type'):
                if key in first:
                    loader[key] = first[key]
            if 'imdecode_backend' in first:
                loader['imdecode_backend'] = first['imdecode_backend']
            return [loader] + pipeline[1:]
        if first is not None and type(first).__name__ in (
                'LoadImageFromFile', 'LoadImageChecked'):
            return [loader] + pipeline[1:]
        return [loader] + pipeline

    @property
    def source_names(self) -> List[str]:
        return [s.name for s in self.sources]

    @property
    def num_shards(self) -> int:
        return sum(len(s.urls) for s in self.sources)

    @property
    def epoch(self) -> int:
        """The epoch the next iteration reads (shared with workers)."""
        if self._shared_epoch is not None:
            return int(self._shared_epoch.value)
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (call in the main process before iterating)."""
        self._epoch = int(epoch)
        if self._shared_epoch is None:
            self._shared_epoch = mp.Value('i', int(epoch), lock=False)
        else:
            self._shared_epoch.value = int(epoch)

    def __deepcopy__(self, memo):
        # the shared epoch is shared, not copied (mmengine deep-copies
        # dataloader configs that may hold a built dataset)
        new = copy.copy(self)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k != '_shared_epoch':
                setattr(new, k, copy.deepcopy(v, memo))
        return new

    # ------------------------------------------------------------ resume
    def record(self, stats: Optional[dict]) -> None:
        """Account a consumed batch's statistics (main process)."""
        if not stats:
            return
        epoch = stats.get('epoch', self._progress['epoch'])
        if epoch != self._progress['epoch']:
            self._progress = dict(epoch=epoch, opened=set(), samples=0)
        self._progress['opened'].update(
            url for ep, url in stats.get('opened', []) if ep == epoch)
        self._progress['samples'] += sum(stats.get('samples', {}).values())

    def state_dict(self) -> dict:
        """Where this rank's stream stands: epoch, consumed shards/samples."""
        progress = self._progress
        if self._resume and self._resume['epoch'] == progress['epoch']:
            # shards consumed before the last resume still count
            opened = set(self._resume['opened']) | progress['opened']
            samples = self._resume['samples'] + progress['samples']
        else:
            opened, samples = progress['opened'], progress['samples']
        return dict(
            epoch=progress['epoch'],
            opened=sorted(opened),
            samples=samples,
            resampled=self.resampled)

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (before iterating)."""
        epoch = int(state.get('epoch', 0))
        self._resume = dict(
            epoch=epoch,
            opened=set(state.get('opened', [])),
            samples=int(state.get('samples', 0)))
        self._progress = dict(epoch=epoch, opened=set(), samples=0)
        self.set_epoch(epoch)

    # --------------------------------------------------------- iteration
    def _rng(self, *parts) -> random.Random:
        return random.Random('-'.join(str(p) for p in (self.seed, ) + parts))

    def _worker_shards(self, src_idx: int, epoch: int, worker: int,
                       num_workers: int, resume: Optional[dict],
                       rng: random.Random) -> Iterator[str]:
        src = self.sources[src_idx]
        if self.resampled:
            while True:
                yield rng.choice(src.urls)
        urls = list(src.urls)
        if self.shuffle:  # same order on every rank
            self._rng('shards', epoch, src_idx).shuffle(urls)
        urls = urls[self.rank::self.world_size]
        if resume is not None:
            urls = [u for u in urls if u not in resume['opened']]
        yield from urls[worker::num_workers]

    def _raw_samples(self, src: _Source, urls: Iterator[str],
                     state: _WorkerState, epoch: int) -> Iterator[dict]:
        from webdataset.gopen import gopen
        from webdataset.tariterators import group_by_keys, tar_file_iterator
        for url in urls:
            state.opened.append((epoch, url))
            try:
                stream = _TailReader(gopen(url))
            except Exception as e:  # noqa: BLE001 - any open failure
                self._skip(state, (src.name, 'unreadable_shard', url,
                                   f'{type(e).__name__}: {e}'), e)
                continue
            errors: List[BaseException] = []

            def handler(exn, errors=errors):
                errors.append(exn)
                return False  # a tar stream cannot be read past an error

            def with_url(files, url=url):
                for f in files:
                    f['__url__'] = url
                    yield f

            try:
                yield from group_by_keys(
                    with_url(tar_file_iterator(stream, handler=handler)),
                    handler=handler)
                if not errors and not stream.complete():
                    errors.append(
                        tarfile.ReadError('unexpected end of data: no '
                                          'end-of-archive marker'))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                try:
                    stream.close()
                except Exception:  # noqa: BLE001
                    pass
            if errors:
                e = errors[0]
                truncated = isinstance(e, (tarfile.ReadError, EOFError)) or (
                    'unexpected end' in str(e))
                self._skip(state, (src.name, 'truncated_shard'
                                   if truncated else 'bad_shard', url,
                                   f'{type(e).__name__}: {e}'), e)

    def _skip(self, state: _WorkerState, event: SkipEvent,
              err: Optional[BaseException] = None) -> None:
        if not self.skip_bad_samples:
            raise BadSampleError(event[1], event[2], event[3]) from err
        state.skip(event)

    def _caption(self, raw: dict, key: str) -> str:
        for ext in self.caption_ext:
            if ext not in raw:
                continue
            data = raw[ext]
            try:
                text = data.decode('utf-8') if isinstance(data,
                                                          bytes) else data
                if ext == 'json':
                    obj = json.loads(text)
                    text = obj.get(self.caption_field) if isinstance(
                        obj, dict) else None
                    if text is None:
                        continue
            except (UnicodeDecodeError, ValueError) as e:
                raise BadSampleError('bad_caption', key,
                                     f'{ext}: {e}') from None
            text = str(text).strip()
            if not text:
                raise BadSampleError('empty_caption', key)
            return text
        raise BadSampleError(
            'missing_caption', key,
            f'no {"/".join(self.caption_ext)} in the sample (has '
            f'{sorted(k for k in raw if not k.startswith("__"))})')

    def _prepare(self, raw: dict, src: _Source,
                 state: _WorkerState) -> Optional[dict]:
        key = f'{raw.get("__url__", "")}#{raw.get("__key__", "")}'
        try:
            data = next((raw[e] for e in self.image_ext if e in raw), None)
            if data is None:
                raise BadSampleError(
                    'missing_image', key,
                    f'no {"/".join(self.image_ext)} in the sample (has '
                    f'{sorted(k for k in raw if not k.startswith("__"))})')
            results = dict(
                img_bytes=data,
                img_path=key,
                text=self._caption(raw, key),
                source=src.name)
            out = self.pipeline(results)
        except Exception as e:  # noqa: BLE001 - filtered below
            if not is_bad_data_error(e):
                raise
            self._skip(state, event_from_error(src.name, e, key), e)
            return None
        if out is None:
            self._skip(state, (src.name, 'pipeline_returned_none', key, ''))
            return None
        state.good()
        return out

    def _source_stream(self, src_idx: int, epoch: int, worker: int,
                       num_workers: int, resume: Optional[dict],
                       offset: int, state: _WorkerState) -> Iterator[dict]:
        src = self.sources[src_idx]
        rng = self._rng('samples', epoch, offset, self.rank, worker, src_idx)
        urls = self._worker_shards(src_idx, epoch, worker, num_workers,
                                   resume, rng)
        raw = self._raw_samples(src, urls, state, epoch)
        if self.shuffle and self.shuffle_buffer > 1:
            raw = _buffer_shuffle(raw, self.shuffle_buffer,
                                  self.shuffle_initial, rng)
        for sample in raw:
            out = self._prepare(sample, src, state)
            if out is not None:
                yield src.name, out

    def _mix(self, streams: List[Iterator[dict]],
             rng: random.Random) -> Iterator[dict]:
        if len(streams) == 1:
            yield from streams[0]
            return
        live = list(range(len(streams)))
        while live:
            weights = [self.sources[i].weight for i in live]
            i = rng.choices(live, weights)[0]
            try:
                yield next(streams[i])
            except StopIteration:
                live.remove(i)

    def _quota(self, resume: Optional[dict], num_workers: int,
               worker: int) -> Optional[int]:
        """Samples this worker delivers this epoch (resampled mode)."""
        if not self.resampled:
            return None
        per_rank = math.ceil(self.epoch_samples / self.world_size)
        if resume is not None:
            per_rank = max(0, per_rank - resume['samples'])
        base, extra = divmod(per_rank, num_workers)
        return base + (1 if worker < extra else 0)

    def __iter__(self) -> Iterator[List[dict]]:
        if not self.batch_size:
            raise ValueError(
                'WebImageTextDataset.batch_size is not set. In a training '
                'config it comes from the dataloader\'s batch_size; used '
                'alone, pass batch_size=N and build the DataLoader with '
                'batch_size=None.')
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        epoch = self.epoch
        resume = self._resume if (self._resume is not None and
                                  self._resume['epoch'] == epoch) else None
        offset = 0 if resume is None else (
            f'r{resume["samples"]}-{len(resume["opened"])}')
        if self._carry is not None:  # events of a worker's empty epoch
            state, self._carry = self._carry, None
        else:
            state = _WorkerState(self.max_consecutive_bad)
        streams = [
            self._source_stream(i, epoch, worker, num_workers, resume,
                                offset, state)
            for i in range(len(self.sources))
        ]
        samples = self._mix(streams,
                            self._rng('mix', epoch, offset, self.rank,
                                      worker))
        quota = self._quota(resume, num_workers, worker)
        # a full batch waits for the next good sample before it goes out,
        # so that skips found at the end of the epoch still travel with it
        batch: List[dict] = []
        names: List[str] = []
        full = None
        delivered = 0
        for name, sample in samples:
            if quota is not None and delivered >= quota:
                break
            if full is not None:
                full[0][0][STATS_KEY] = state.take(epoch, full[1])
                yield full[0]
                full = None
            batch.append(sample)
            names.append(name)
            delivered += 1
            if len(batch) == self.batch_size:
                full, batch, names = (batch, names), [], []
        last = [full] if full is not None else []
        if batch and self.partial_batches:
            last.append((batch, names))
        for b, n in last:
            b[0][STATS_KEY] = state.take(epoch, n)
            yield b
        if state.events:
            # no batch left to carry them (a worker without samples): log
            # them now, count them with this worker's next batch
            for ev in state.events:
                print_log(
                    f'Skipped {ev[1]} of {ev[0]!r}: {ev[2]} ({ev[3]})',
                    logger='current',
                    level=logging.WARNING)
            state.opened = []
            self._carry = state

    def __repr__(self) -> str:
        srcs = ', '.join(f'{s.name}: {len(s.urls)} shards (w={s.weight:g})'
                         for s in self.sources)
        mode = (f'resampled, {self.epoch_samples} samples/epoch'
                if self.resampled else 'each sample once per epoch')
        return (f'{type(self).__name__}({srcs}; {mode}; batch_size='
                f'{self.batch_size}; rank {self.rank}/{self.world_size})')
