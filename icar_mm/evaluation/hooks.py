"""Hooks: zero-shot checks during training; text-initialised fine-tuning."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from icar_mm.class_texts import build_class_text_bank
from icar_mm.registry import DATASETS, HOOKS
from .features import build_dataloader, extract_features


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class ZeroShotEvalHook(Hook):
    """Zero-shot accuracy on named sets every ``interval`` iterations.

    Like OpenCLIP's ``--zeroshot-frequency``: the images of each set are
    encoded with the current weights and scored against the set's
    vocabulary; the values are logged as ``zero-shot/NAME`` scalars (log
    file, visualizer backends, message hub).

    Args:
        sets (list[dict]): One dict per set: ``name``, ``vocabulary``
            (:class:`ClassTextBank` config) and either ``dataset`` (a
            dataset config; pipeline ending with ``PackInputs``) or
            ``benchmark`` (a name of :data:`BENCHMARKS`, with
            ``data_root`` and optional ``image_size``; its CLIP names and
            templates are used when ``vocabulary`` is not given). Optional
            ``protocol`` (default: the benchmark's metric or ``'top1'``).
            Benchmarks absent from disk are skipped with a warning.
        interval (int): Iterations between checks. Defaults to 1000.
        by_epoch (bool): Count ``interval`` in epochs. Defaults to False.
        at_end (bool): Also check after training. Defaults to True.
        batch_size (int): Defaults to 64.
    """
    priority = 'LOW'

    def __init__(self,
                 sets: Sequence[Dict],
                 interval: int = 1000,
                 by_epoch: bool = False,
                 at_end: bool = True,
                 batch_size: int = 64) -> None:
        self.set_cfgs = [dict(s) for s in sets]
        self.interval = interval
        self.by_epoch = by_epoch
        self.at_end = at_end
        self.batch_size = batch_size
        self._sets: Optional[List[dict]] = None
        self.history: List[Dict[str, float]] = []

    def _build(self, runner) -> List[dict]:
        from icar_mm.datasets.benchmarks import get_benchmark
        from .benchmark import image_pipeline, vocabularies
        sets = []
        for cfg in self.set_cfgs:
            name = cfg['name']
            protocol = cfg.get('protocol')
            vocab = cfg.get('vocabulary')
            if 'benchmark' in cfg:
                spec = get_benchmark(cfg['benchmark'])
                root = cfg.get('data_root', 'data')
                if not spec.is_present(root):
                    runner.logger.warning(
                        f'ZeroShotEvalHook: {spec.title} not found under '
                        f'{root}; skipped.')
                    continue
                dataset_cfg = spec.dataset_cfg(
                    root, 'test',
                    image_pipeline(cfg.get('image_size', 224),
                                   spec.multilabel))
                protocol = protocol or spec.metric
                if vocab is None:
                    vocab = vocabularies(spec)['names']
                num_classes = len(spec.classnames) \
                    if spec.multilabel else None
            else:
                dataset_cfg = cfg['dataset']
                num_classes = None
            sets.append(
                dict(name=name, dataset=DATASETS.build(dataset_cfg),
                     vocabulary=build_class_text_bank(vocab),
                     protocol=protocol or 'top1', num_classes=num_classes))
        return sets

    @torch.no_grad()
    def evaluate(self, runner, step: int) -> Dict[str, float]:
        """Score every set; ``step`` is the iteration (or epoch) the
        weights have completed."""
        from .zero_shot import zero_shot_metrics
        if self._sets is None:
            self._sets = self._build(runner)
        model = _unwrap(runner.model)
        was_training = model.training
        out = {}
        for s in self._sets:
            embeds, targets = extract_features(
                model, build_dataloader(s['dataset'], self.batch_size),
                num_classes=s['num_classes'])
            metrics = zero_shot_metrics(model, embeds, targets,
                                        s['vocabulary'], s['protocol'])
            out[f"zero-shot/{s['name']}"] = metrics['score']
        model.train(was_training)
        for k, v in out.items():
            runner.message_hub.update_scalar(k, v)
        runner.visualizer.add_scalars(out, step=step)
        runner.logger.info('Zero-shot check: ' + ', '.join(
            f'{k} {v:.2f}' for k, v in out.items()))
        self.history.append(dict(out, step=step))
        return out

    # the loops count an iteration (epoch) as done after these hooks
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self.evaluate(runner, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self.evaluate(runner, runner.epoch + 1)

    def after_train(self, runner) -> None:
        step = runner.epoch if self.by_epoch else runner.iter
        if self.at_end and not (self.history
                                and self.history[-1]['step'] == step):
            self.evaluate(runner, step)


@HOOKS.register_module()
class TextInitClassifierHook(Hook):
    """Initialise a parametric classifier from text-generated class weights.

    Fine-tuning an iCAR checkpoint on ImageNet-1K: the head's class weights
    start as the text encoder's template-ensemble embeddings of the class
    texts (what zero-shot uses), so training starts from the zero-shot
    classifier instead of a random one. Runs once, before the first
    training iteration and after ``load_from``; skipped on resume.

    Args:
        vocabulary (dict): :class:`ClassTextBank` config, in the head's
            class order.
        head_attr (str): Path of the weight to set, from the model.
            Defaults to ``'cls_head.fc.weight'``.
        freeze_text_encoder (bool): Stop gradients into the text encoder
            afterwards (the config should then set
            ``find_unused_parameters=True`` for DDP). Defaults to True.
    """
    priority = 'VERY_HIGH'

    def __init__(self, vocabulary: Dict,
                 head_attr: str = 'cls_head.fc.weight',
                 freeze_text_encoder: bool = True) -> None:
        self.vocabulary = vocabulary
        self.head_attr = head_attr
        self.freeze_text_encoder = freeze_text_encoder
        self.initialised = False

    @torch.no_grad()
    def init_weights(self, model) -> torch.Tensor:
        model = _unwrap(model)
        bank = build_class_text_bank(self.vocabulary)
        if getattr(model, 'text_classifier', None) is None:
            raise ValueError('TextInitClassifierHook needs a model with a '
                             'text encoder.')
        weights = model.text_classifier.ensemble(bank)
        target = model
        for part in self.head_attr.split('.'):
            target = getattr(target, part)
        if tuple(target.shape) != tuple(weights.shape):
            raise ValueError(f'{self.head_attr} has shape '
                             f'{tuple(target.shape)} but the vocabulary gives '
                             f'{tuple(weights.shape)} class weights.')
        target.copy_(weights.to(target))
        if self.freeze_text_encoder:
            model.text_encoder.requires_grad_(False)
        self.initialised = True
        return weights

    def before_train(self, runner) -> None:
        if runner.iter > 0:  # resumed: the weights come from the checkpoint
            return
        self.init_weights(runner.model)
        runner.logger.info(f'{self.head_attr} initialised from the text '
                           f'embeddings of {self.vocabulary}.')
