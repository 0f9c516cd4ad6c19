"""Iteration-based training over an image-label and an image-text stream."""
from typing import Dict, Union

from mmengine.runner import IterBasedTrainLoop

from icar_mm.datasets.two_stream_dataloader import STREAMS, \
    TwoStreamDataLoader
from icar_mm.registry import LOOPS


@LOOPS.register_module()
class TwoStreamIterBasedTrainLoop(IterBasedTrainLoop):
    """:class:`IterBasedTrainLoop` whose batches hold both iCAR streams.

    ``train_dataloader`` is ``dict(cls=<dataloader cfg>, itc=<dataloader
    cfg>)``; each stream is built by the runner like any dataloader (seeded,
    distributed sampler per rank) and zipped by :class:`TwoStreamDataLoader`.
    Resuming advances both streams to where they stopped.

    Before training it checks that the class list of the image-label dataset
    matches the classes of the model's text classifier.

    Args:
        runner (Runner): The runner.
        dataloader (dict): ``cls`` and/or ``itc`` dataloader configs.
        **kwargs: ``max_iters``, ``val_begin``, ``val_interval``...
    """

    def __init__(self, runner, dataloader: Union[Dict, TwoStreamDataLoader],
                 **kwargs) -> None:
        if isinstance(dataloader, dict):
            unknown = set(dataloader) - set(STREAMS)
            if unknown:
                raise KeyError(
                    'train_dataloader of TwoStreamIterBasedTrainLoop must '
                    'be dict(cls=..., itc=...); unknown key(s) '
                    f'{sorted(unknown)}.')
            diff_rank_seed = runner._randomness_cfg.get(
                'diff_rank_seed', False)
            dataloader = TwoStreamDataLoader({
                name: runner.build_dataloader(
                    cfg, seed=runner.seed, diff_rank_seed=diff_rank_seed)
                for name, cfg in dataloader.items() if cfg is not None
            })
        super().__init__(runner, dataloader, **kwargs)
        self._check_classes()

    def _check_classes(self) -> None:
        loader = self.dataloader.loaders.get('cls')
        model = self.runner.model
        model = getattr(model, 'module', model)
        head = getattr(model, 'cls_head', None)
        bank = getattr(head, 'class_texts', None)
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
