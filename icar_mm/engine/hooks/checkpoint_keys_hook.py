"""A loaded checkpoint compared with the model: in the log, or refused."""
import re
from typing import Dict, List, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from icar_mm.registry import HOOKS


def compare_state_dicts(checkpoint: Dict, model: Dict
                        ) -> Tuple[List[str], List[str], List[tuple]]:
    """``(missing, unexpected, mismatched shapes)`` of a checkpoint's
    ``state_dict`` against a model's (DDP's ``module.`` prefix ignored)."""
    state = {re.sub(r'^module\.', '', k): v for k, v in checkpoint.items()}
    missing = [k for k in model if k not in state]
    unexpected = [k for k in state if k not in model]
    mismatched = [(k, tuple(state[k].shape), tuple(model[k].shape))
                  for k in model if k in state
                  and hasattr(state[k], 'shape')
                  and tuple(state[k].shape) != tuple(model[k].shape)]
    return missing, unexpected, mismatched


@HOOKS.register_module()
class CheckpointKeysHook(Hook):
    """Say in the work-dir log how a loaded checkpoint fits the model.

    ``load_from`` a checkpoint of another architecture: the keys the model
    lacks, the keys it does not use and the tensors of another shape are
    written to the work-dir log (mmengine prints them to the console only).
    ``resume`` from one: refused, naming the checkpoint and the fix, before
    the optimizer state fails to load with a cryptic error.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        state = checkpoint.get('state_dict', checkpoint)
        missing, unexpected, mismatched = compare_state_dicts(
            state, model.state_dict())
        path = getattr(runner, '_load_from', None) or 'the checkpoint'
        if not (missing or unexpected or mismatched):
            runner.logger.info(f'{path}: every model tensor loaded.')
            return
        report = (
            f'{path} does not fit the model: {len(missing)} model key(s) '
            f'missing from it (left as initialised) {missing[:8]}, '
            f'{len(unexpected)} key(s) of it unused {unexpected[:8]}, '
            f'{len(mismatched)} of another shape (not loaded) '
            f'{mismatched[:8]}.')
        if getattr(runner, '_resume', False):
            raise RuntimeError(
                f'Cannot resume: {report} Resuming continues a run of this '
                'same config (model, optimizer, schedule); to start from '
                f'these weights instead, use load_from={path} without '
                '--resume.')
        runner.logger.warning(report)
