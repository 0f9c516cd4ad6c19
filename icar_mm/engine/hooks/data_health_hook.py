"""Skipped samples in the training log; stream positions in checkpoints."""
import logging
import re
from typing import Optional

from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from icar_mm.datasets.data_health import log_events
from icar_mm.registry import HOOKS
from .checkpoint_due import checkpoint_due

CHECKPOINT_KEY = 'data_streams'


def _tag(source: str) -> str:
    return re.sub(r'[^0-9A-Za-z_.-]+', '_', source)


@HOOKS.register_module()
class DataHealthHook(Hook):
    """Report skipped bad samples and keep the data streams resumable.

    Works with :class:`~icar_mm.engine.runner.TwoStreamIterBasedTrainLoop`
    (which registers it when the config does not):

    * every iteration, ``train/skipped_<source>`` (skipped samples of each
      data source so far, all reasons) is put into the message hub, so the
      training log shows it; every ``interval`` iterations the counts are
      summed over the ranks first, and each skipped sample is logged as a
      warning with its key (a file path, ``shard#key``, an annotation line);
    * checkpoints carry every rank's :meth:`TwoStreamDataLoader.state_dict`
      (the counts and the webdataset positions), restored on resume.

    Args:
        interval (int, optional): Iterations between cross-rank sums and
            key listings; defaults to the LoggerHook's interval.
        log_first (int): Keys listed per interval and rank (the rest is
            counted). Defaults to 20.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL)

    def __init__(self, interval: Optional[int] = None,
                 log_first: int = 20) -> None:
        self.interval = interval
        self.log_first = log_first
        self._totals = {}
        self._stream_states = None

    @staticmethod
    def _loader(runner):
        loop = runner.train_loop
        loader = getattr(loop, 'dataloader', None)
        return loader if hasattr(loader, 'health') else None

    def before_train(self, runner) -> None:
        if self.interval is None:
            logger_hook = next((h for h in runner.hooks
                                if type(h).__name__ == 'LoggerHook'), None)
            self.interval = getattr(logger_hook, 'interval', 50) or 50
        loader = self._loader(runner)
        if loader is None:
            return
        for name, dl in loader.loaders.items():
            # every source shows in the log from the start (0 skipped)
            names = getattr(dl.dataset, 'source_names', None) or [
                getattr(dl.dataset, 'source_name', None) or name
            ]
            for source in names:
                loader.health.skipped.setdefault(str(source), {})
            print_log(f'Training stream {name!r}: {dl.dataset!r}'
                      if loader.is_streamed(name) else
                      f'Training stream {name!r}: '
                      f'{type(dl.dataset).__name__} with '
                      f'{_safe_len(dl.dataset)} samples',
                      logger='current', level=logging.INFO)
        events, dropped = loader.health.drain(self.log_first)
        if events:
            print_log(
                f'{len(events) + dropped} annotation line(s) were skipped '
                'while loading the training data:',
                logger='current',
                level=logging.WARNING)
            log_events(events, dropped)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        loader = self._loader(runner)
        if loader is None:
            return
        health = loader.health
        local = health.totals()
        boundary = self.every_n_train_iters(
            runner, self.interval or 50) or self.is_last_train_iter(runner)
        if boundary:
            events, dropped = health.drain(self.log_first)
            if get_world_size() > 1:
                gathered = all_gather_object((local, events, dropped))
                totals = {}
                for counts, _, _ in gathered:
                    for k, v in counts.items():
                        totals[k] = totals.get(k, 0) + v
                if get_rank() == 0:
                    for rank, (_, evs, drop) in enumerate(gathered):
                        log_events([(f'{e[0]}@rank{rank}', *e[1:])
                                    for e in evs], drop)
            else:
                totals = local
                log_events(events, dropped)
            self._totals = totals
        else:
            # between boundaries: this rank's count, never below the last
            # cross-rank sum
            totals = {
                k: max(v, self._totals.get(k, 0))
                for k, v in local.items()
            }
        for source, n in totals.items():
            runner.message_hub.update_scalar(f'train/skipped_{_tag(source)}',
                                             n)
        # checkpoints are written by rank 0 only (before_save_checkpoint
        # runs there alone): collect every rank's stream position now
        if checkpoint_due(runner, 'iter'):
            self._stream_states = all_gather_object(loader.state_dict())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        loader = self._loader(runner)
        if loader is None:
            return
        states = self._stream_states
        self._stream_states = None
        if states is None:  # a checkpoint outside the schedule
            if get_world_size() > 1:
                return
            states = [loader.state_dict()]
        checkpoint[CHECKPOINT_KEY] = dict(
            world_size=get_world_size(), ranks=states)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loader = self._loader(runner)
        saved = checkpoint.get(CHECKPOINT_KEY)
        if loader is None or not saved:
            return
        ranks = saved.get('ranks') or []
        if len(ranks) == get_world_size():
            loader.load_state_dict(ranks[get_rank()])
            return
        # another number of ranks: counts of rank 0; streams at the latest
        # epoch any rank reached, started afresh (no shard read twice in an
        # epoch, since the epoch is new)
        state = dict(ranks[0]) if ranks else {}
        streams = {}
        for st in ranks:
            for name, s in (st.get('streams') or {}).items():
                epoch = s.get('epoch', 0) + 1
                if epoch > streams.get(name, {}).get('epoch', -1):
                    streams[name] = dict(epoch=epoch, opened=[], samples=0)
        state['streams'] = streams
        print_log(
            f'The checkpoint has the data streams of {len(ranks)} ranks, '
            f'this run has {get_world_size()}: webdataset streams start a '
            'new epoch.',
            logger='current',
            level=logging.WARNING)
        loader.load_state_dict(state)


def _safe_len(dataset) -> str:
    try:
        return str(len(dataset))
    except TypeError:
        return '?'
