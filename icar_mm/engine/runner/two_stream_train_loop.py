"""Iteration-based training over an image-label and an image-text stream."""
import copy
import logging
from typing import Dict, Optional, Tuple, Union

from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from torch import nn
from torch.utils.data import IterableDataset

from icar_mm.datasets.data_health import DataHealth
from icar_mm.datasets.two_stream_dataloader import STREAMS, \
    TwoStreamDataLoader
from icar_mm.registry import DATASETS, LOOPS
from ..hooks.random_state_hook import RandomStateHook
from ..model_wrappers import FeatureCacheDistributedDataParallel


def dataset_is_streamed(dataset_cfg) -> bool:
    """Whether a dataset config builds an iterable (webdataset) dataset."""
    if isinstance(dataset_cfg, IterableDataset):
        return True
    if not isinstance(dataset_cfg, dict):
        return False
    dtype = dataset_cfg.get('type')
    cls = DATASETS.get(dtype) if isinstance(dtype, str) else dtype
    if cls is None:
        return False
    from icar_mm.datasets.image_text_source import (AutoImageTextDataset,
                                                    image_text_dataset_class)
    if cls is AutoImageTextDataset:
        cls = image_text_dataset_class(dataset_cfg)
    return isinstance(cls, type) and issubclass(cls, IterableDataset)


def prepare_stream_cfg(cfg: dict, seed: int) -> dict:
    """Adapt one stream's dataloader config before the runner builds it.

    * every stream collates with :func:`collate_with_stats` (wrapping the
      configured collate function), so skipped-sample counts made in the
      workers reach the main process;
    * a streamed (webdataset) dataset forms its batches in the workers: the
      dataloader's ``batch_size`` moves into the dataset, the dataloader
      gets ``batch_size=None`` and no sampler, and the dataset gets the
      run's seed (the same on every rank: it orders the shards).
    """
    cfg = copy.deepcopy(dict(cfg))
    inner = cfg.get('collate_fn', dict(type='pseudo_collate'))
    cfg['collate_fn'] = dict(type='collate_with_stats', collate_fn=inner)
    if dataset_is_streamed(cfg.get('dataset')):
        dataset = cfg['dataset']
        batch_size = cfg.get('batch_size')
        if isinstance(dataset, dict):
            dataset = dict(dataset)
            if batch_size is not None:
                dataset['batch_size'] = batch_size
            dataset.setdefault('seed', seed)
            cfg['dataset'] = dataset
        elif batch_size is not None:
            dataset.batch_size = batch_size
        sampler = cfg.get('sampler')
        if sampler is not None:
            name = dataset.get('type') if isinstance(
                dataset, dict) else type(dataset).__name__
            print_log(
                f'The {name} stream is read in shard order split across '
                f'ranks and workers; its sampler {sampler} is not used.',
                logger='current',
                level=logging.INFO)
        cfg['sampler'] = None
        cfg['batch_size'] = None
        for key in ('batch_sampler', 'shuffle', 'drop_last'):
            cfg.pop(key, None)
    return cfg


def model_tokenizer(model) -> Optional[Tuple[str, int]]:
    """The text encoder's tokenizer and ``max_length`` (None: no text
    encoder), from the built model or, before it is built (FlexibleRunner),
    from its config."""
    if is_model_wrapper(model):
        model = model.module
    encoder = model.get('text_encoder') if isinstance(
        model, dict) else getattr(model, 'text_encoder', None)
    if encoder is None:
        return None
    if isinstance(encoder, dict):
        from icar_mm.models.text import TextEncoder
        return TextEncoder.tokenizer_of(encoder)
    return encoder.tokenizer.name, encoder.tokenizer.max_length


def set_caption_tokenizer(cfg, tokenizer: str, max_length: int) -> None:
    """Give every ``TokenizeCaption`` of a (nested) config that names no
    tokenizer the text encoder's."""
    if isinstance(cfg, dict):
        if cfg.get('type') in ('TokenizeCaption', 'icar_mm.TokenizeCaption'):
            if cfg.get('tokenizer') is None:
                cfg['tokenizer'] = tokenizer
            if cfg.get('max_length') is None:
                cfg['max_length'] = max_length
        for value in cfg.values():
            set_caption_tokenizer(value, tokenizer, max_length)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            set_caption_tokenizer(value, tokenizer, max_length)


@LOOPS.register_module()
class TwoStreamIterBasedTrainLoop(IterBasedTrainLoop):
    """:class:`IterBasedTrainLoop` whose batches hold both iCAR streams.

    ``train_dataloader`` is ``dict(cls=<dataloader cfg>, itc=<dataloader
    cfg>)``; each stream is built by the runner like any dataloader (seeded,
    distributed sampler per rank; a webdataset stream splits its shards
    across ranks and workers) and zipped by :class:`TwoStreamDataLoader`.

    Resuming continues both streams where they stopped: a map-style stream
    is advanced exactly (its batches are drawn again, so augmentation random
    states match an uninterrupted run); a webdataset stream restores its
    position from the checkpoint without reading anything again.

    Bad samples are skipped and counted per source; the counts appear in
    the training log as ``skipped_<source>`` (:class:`DataHealthHook`,
    registered automatically) and too many of them stop the run with a
    clear error (``data_health`` limits).

    Before training it checks that the class list of the image-label dataset
    matches the classes of the model's text classifier. A ``TokenizeCaption``
    step of the image-text pipeline gets the model's tokenizer, so captions
    are tokenized in the dataloader workers exactly as the model would.

    Args:
        runner (Runner): The runner.
        dataloader (dict): ``cls`` and/or ``itc`` dataloader configs.
        stream_ratio (dict, optional): Relative frequency of the streams,
            e.g. ``dict(cls=1, itc=4)``; None: both in every iteration.
        ratio_mode (str): ``'joint'`` (an iteration holds every stream that
            is due), ``'alternate'`` (one stream per iteration, evenly
            interleaved) or ``'random'`` (one stream per iteration, drawn
            with the ratio's probabilities). See
            :func:`~icar_mm.datasets.two_stream_dataloader.stream_schedule`.
            Modes that leave a stream out of some iterations need
            ``find_unused_parameters=True`` under DDP.
        data_health (dict, optional): :class:`DataHealth` limits:
            ``max_skipped`` (count), ``max_skipped_ratio`` (default 0.05)
            and ``min_samples`` (default 1000), per source.
        **kwargs: ``max_iters``, ``val_begin``, ``val_interval``...
    """

    def __init__(self,
                 runner,
                 dataloader: Union[Dict, TwoStreamDataLoader],
                 stream_ratio: Optional[Dict[str, float]] = None,
                 ratio_mode: str = 'joint',
                 data_health: Optional[Dict] = None,
                 **kwargs) -> None:
        health = DataHealth(**(data_health or {}))
        if isinstance(dataloader, dict):
            unknown = set(dataloader) - set(STREAMS)
            if unknown:
                raise KeyError(
                    'train_dataloader of TwoStreamIterBasedTrainLoop must '
                    'be dict(cls=..., itc=...); unknown key(s) '
                    f'{sorted(unknown)}.')
            diff_rank_seed = runner._randomness_cfg.get(
                'diff_rank_seed', False)
            seed = runner.seed
            shared_seed = seed - get_rank() if (
                diff_rank_seed and seed is not None) else seed
            tokenizer = model_tokenizer(runner.model)
            if tokenizer is not None and dataloader.get('itc'):
                dataloader = dict(dataloader, itc=copy.deepcopy(
                    dict(dataloader['itc'])))
                set_caption_tokenizer(dataloader['itc'], *tokenizer)
            dataloader = TwoStreamDataLoader(
                {
                    name: runner.build_dataloader(
                        prepare_stream_cfg(cfg, shared_seed or 0),
                        seed=runner.seed,
                        diff_rank_seed=diff_rank_seed)
                    for name, cfg in dataloader.items() if cfg is not None
                },
                stream_ratio=stream_ratio,
                ratio_mode=ratio_mode,
                seed=shared_seed or 0,
                health=health)
        super().__init__(runner, dataloader, **kwargs)
        self._check_streams()
        self._check_classes()
        self._ensure_health_hook()

    def _ensure_health_hook(self) -> None:
        from icar_mm.engine.hooks.data_health_hook import DataHealthHook
        if not any(isinstance(h, DataHealthHook) for h in self.runner.hooks):
            self.runner.register_hook(DataHealthHook())

    def _check_streams(self) -> None:
        """Every loss of the model has its stream, and every stream a loss:
        a missing one would silently train only the other task."""
        model = self.runner.model
        model = getattr(model, 'module', model)
        if isinstance(model, dict):  # not built yet (FlexibleRunner)
            needs = {k: model.get(key) is not None
                     for k, key in (('cls', 'cls_head'), ('itc', 'itc_loss'))}
        elif isinstance(model, nn.Module):
            needs = dict(cls=getattr(model, 'cls_head', None) is not None,
                         itc=getattr(model, 'itc_loss', None) is not None)
        else:
            return
        if not any(needs.values()):  # not a two-task model
            return
        streams = set(self.dataloader.loaders)
        for name, what in (('cls', 'model.cls_head (image-label)'),
                           ('itc', 'model.itc_loss (image-text)')):
            if needs[name] and name not in streams:
                raise ValueError(
                    f'{what} is configured but train_dataloader has no '
                    f'{name!r} stream, so that loss would never train. Add '
                    f'train_dataloader.{name}, or set {what.split()[0]}=None '
                    'to train without it.')
            if not needs[name] and name in streams:
                raise ValueError(
                    f'train_dataloader has a {name!r} stream but '
                    f'{what.split()[0]} is None: its batches would be '
                    f'loaded for nothing. Remove train_dataloader.{name} '
                    f'(=None) or configure {what.split()[0]}.')

    def _check_classes(self) -> None:
        loader = self.dataloader.loaders.get('cls')
        model = self.runner.model
        model = getattr(model, 'module', model)
        classifier = getattr(model, 'text_classifier', None)
        bank = getattr(classifier, 'class_texts', None)
        classes = getattr(loader.dataset, 'metainfo', {}).get(
            'classes') if loader is not None else None
        if bank is None or classes is None:
            return
        diff = bank.mismatches(list(classes))
        if diff:
            raise ValueError(
                'The classes of the image-label dataset '
                f'({len(classes)}) differ from the text classifier\'s class '
                f'texts ({len(bank)}, {bank.origin}); {len(diff)} '
                'mismatches, first ones (index, dataset, class texts): '
                f'{diff[:5]}. Point model.cls_head.classifier.class_texts at '
                'the dataset\'s class list.')

    def _check_model_wrapper(self) -> None:
        """Feature-cache accumulation needs its DDP wrapper."""
        model = self.runner.model
        accum_freq = getattr(getattr(model, 'module', model), 'accum_freq', 1)
        if accum_freq > 1 and is_model_wrapper(model) and not isinstance(
                model, FeatureCacheDistributedDataParallel):
            raise ValueError(
                f'model.accum_freq={accum_freq} under {type(model).__name__}'
                ', whose train step would ignore it. Set model_wrapper_cfg='
                "dict(type='FeatureCacheDistributedDataParallel') in the "
                'config.')

    def _restore_random(self) -> None:
        for hook in self.runner.hooks:
            if isinstance(hook, RandomStateHook):
                hook.restore(self.runner)

    def run(self) -> None:
        """Launch training (as :class:`IterBasedTrainLoop`, smarter resume).

        On resume the streams are not advanced by drawing ``iter`` zipped
        batches: :meth:`TwoStreamDataLoader.resume` advances each map-style
        stream by the batches it delivered, and streamed datasets continue
        from their checkpointed position.
        """
        self._check_model_wrapper()
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            streamed = [
                k for k in self.dataloader.loaders
                if self.dataloader.is_streamed(k)
            ]
            print_log(
                f'Resuming the data streams at iteration {self._iter}: '
                'map-style streams are advanced past their consumed batches'
                + (f'; {streamed} continue from their checkpointed position '
                   '(consumed shards are not read again)' if streamed else
                   ''),
                logger='current',
                level=logging.WARNING)
            self.dataloader.resume(self._iter)
            # the random streams continue from the checkpoint once the
            # consumed batches were drawn again (the workers seeded as in
            # the uninterrupted run) and before the first resumed batch is
            # drawn (by the main process when there are no workers)
            self.dataloader.before_resumed_batch = self._restore_random
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()

            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)

            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()

        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
