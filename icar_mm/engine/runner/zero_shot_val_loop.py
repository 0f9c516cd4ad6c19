"""Validation of one image set against several vocabularies at once."""
import copy
from typing import Dict, List, Optional, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop

from icar_mm.class_texts import build_class_text_bank
from icar_mm.registry import LOOPS


@LOOPS.register_module()
class ZeroShotValLoop(ValLoop):
    """Zero-shot evaluation under several vocabularies, images encoded once.

    Each named vocabulary is a :class:`ClassTextBank` config (e.g. the held-
    out classes with descriptions and with names only); each gets its own
    copy of the evaluator, and metrics are reported as ``NAME/metric``.
    ``None`` as a vocabulary scores the model's training classes.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader): The evaluation images.
        evaluator (dict | list | Evaluator): Metrics, copied per vocabulary.
        vocabularies (dict[str, dict | None]): Named vocabularies.
        fp16 (bool): Autocast in fp16. Defaults to False.
    """

    stage = 'val'

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator: Union[Dict, List, Evaluator],
                 vocabularies: Dict[str, Optional[Dict]],
                 fp16: bool = False) -> None:
        if not vocabularies:
            raise ValueError('ZeroShotValLoop needs at least one vocabulary.')
        super().__init__(runner, dataloader, evaluator, fp16)
        self.vocabularies = {
            name: build_class_text_bank(cfg)
            for name, cfg in vocabularies.items()
        }
        self.evaluators = {}
        for name, bank in self.vocabularies.items():
            ev = runner.build_evaluator(copy.deepcopy(evaluator)) if not \
                isinstance(evaluator, Evaluator) else copy.deepcopy(evaluator)
            ev.dataset_meta = dict(
                self.evaluator.dataset_meta or {},
                classes=bank.names if bank is not None else None)
            self.evaluators[name] = ev

    @property
    def _model(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def run(self) -> dict:
        """Encode the images once, score them against every vocabulary."""
        self.runner.call_hook(f'before_{self.stage}')
        self.runner.call_hook(f'before_{self.stage}_epoch')
        self.runner.model.eval()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = {}
        size = len(self.dataloader.dataset)
        for name, evaluator in self.evaluators.items():
            metrics.update({
                f'{name}/{k}': v
                for k, v in evaluator.evaluate(size).items()
            })
        self.runner.call_hook(f'after_{self.stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{self.stage}')
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Dict) -> None:
        self.runner.call_hook(
            f'before_{self.stage}_iter', batch_idx=idx, data_batch=data_batch)
        model = self._model
        with torch.autocast(
                device_type=next(model.parameters()).device.type,
                enabled=self.fp16):
            data = model.data_preprocessor(data_batch, False)
            feats = model.extract_feat(data['inputs'])
            embeds = model.visual_proj(feats) if model.visual_proj else None
            outputs = None
            for name, bank in self.vocabularies.items():
                samples = copy.deepcopy(data['data_samples'])
                if bank is None:
                    samples = model.predict_from_feats(feats, samples)
                else:
                    samples = model.classify(embeds, samples, bank)
                self.evaluators[name].process(
                    data_samples=samples, data_batch=data_batch)
                outputs = samples if outputs is None else outputs
        self.runner.call_hook(
            f'after_{self.stage}_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)


@LOOPS.register_module()
class ZeroShotTestLoop(ZeroShotValLoop):
    """:class:`ZeroShotValLoop` for ``test_cfg`` (calls the test hooks)."""
    stage = 'test'
