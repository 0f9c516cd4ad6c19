"""Save and restore random number generator states with checkpoints."""
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook

from icar_mm.registry import HOOKS
from .checkpoint_due import checkpoint_due


def _capture() -> Dict:
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _restore(state: Dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make resumed training draw the same random numbers as an unbroken run.

    mmengine checkpoints keep the model, optimizer, schedulers and the
    iteration, and on resume the dataloaders are advanced past the consumed
    batches; but the process' random generators (dropout, drop-path, random
    augmentations in the main process) restart from the seed. This hook
    stores every rank's Python / numpy / torch (and CUDA) generator states in
    the checkpoint and restores them once the dataloaders were advanced past
    the consumed batches and before the first resumed batch is drawn
    (:class:`TwoStreamIterBasedTrainLoop` calls :meth:`restore` there: with
    ``num_workers=0`` the main process draws the batches, augmentations
    included); other loops get them before the first resumed iteration.
    """

    # before the CheckpointHook (VERY_LOW) in after_train_iter/epoch
    priority = 'LOW'

    def __init__(self) -> None:
        self._pending: Optional[List[Dict]] = None
        self._pending_iter = -1
        self._gathered: Optional[List[Dict]] = None

    def _gather_if_due(self, runner, stage: str) -> None:
        # every rank must join the gather: checkpoints are written by rank 0
        if checkpoint_due(runner, stage):
            self._gathered = all_gather_object(_capture())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._gather_if_due(runner, 'iter')

    def after_train_epoch(self, runner) -> None:
        self._gather_if_due(runner, 'epoch')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # rank 0 only; a checkpoint outside the schedule (e.g. the best
        # one) carries only rank 0's states, which resume then ignores
        # for a run of several ranks
        checkpoint['rng_states'] = self._gathered or [_capture()]
        self._gathered = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_states')
        if states:
            self._pending = states
            self._pending_iter = checkpoint.get('meta', {}).get('iter', -1)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self.restore(runner)

    def restore(self, runner) -> None:
        """Restore the checkpoint's random states (once, when resuming at
        the checkpoint's iteration)."""
        if self._pending is None:
            return
        if runner.iter == self._pending_iter:
            states = self._pending
            if len(states) != runner.world_size:
                runner.logger.warning(
                    f'RandomStateHook: the checkpoint holds {len(states)} '
                    f'ranks\' random states, this run has '
                    f'{runner.world_size}; random streams are not restored.')
            else:
                _restore(states[get_rank()])
        self._pending = None
