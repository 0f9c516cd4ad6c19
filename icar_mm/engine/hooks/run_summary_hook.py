"""A summary a person reads at the end of a training run."""
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from icar_mm.registry import HOOKS


@HOOKS.register_module()
class RunSummaryHook(Hook):
    """Print what a run gave, where its checkpoint is and what to try next.

    Keeps the metrics of the last validation and, after training, prints
    to the console and the work-dir log the chosen ones next to the chance
    level, the last checkpoint's path and the next commands, with
    ``{config}``, ``{checkpoint}`` and ``{work_dir}`` filled in.

    Args:
        metrics (dict): ``metric key -> label`` of the validation metrics to
            show first, labelled, in order (e.g. ``{'heldout/accuracy/top1':
            'zero-shot, name + description'}``). The other metrics the
            validation reported follow under their own keys, so a config
            that validates something else (inheriting this hook) shows what
            it measured. Defaults to None (every metric by its key).
        chance (float, optional): Chance level of the labelled metrics, in
            their unit (e.g. 10.0 for 10 classes in percent); shown only
            when one of them was reported. Defaults to None.
        next_commands (Sequence[str]): Commands to suggest. Defaults to ().
    """

    priority = 'LOWEST'

    def __init__(self,
                 metrics: Optional[Dict[str, str]] = None,
                 chance: Optional[float] = None,
                 next_commands: Sequence[str] = ()) -> None:
        self.metrics = dict(metrics or {})
        self.chance = chance
        self.next_commands = list(next_commands)
        self.last: Dict[str, float] = {}
        self.last_step: Optional[int] = None

    def after_val_epoch(self, runner, metrics: Optional[Dict] = None) -> None:
        if metrics:
            self.last = dict(metrics)
            self.last_step = runner.iter

    def summary(self, runner) -> str:
        """The summary's text."""
        labelled = [(self.metrics[k], k) for k in self.metrics
                    if k in self.last]
        # what a derived config validates instead (e.g. seen-class accuracy)
        others = [(k, k) for k in self.last if k not in self.metrics]
        rows = labelled + others
        width = max([len(label) for label, _ in rows] + [6])
        when = (f' (validation after iteration {self.last_step})'
                if self.last_step is not None else ' (no validation ran)')
        lines = ['', '=' * 72, f'Run finished: {runner.experiment_name}{when}']
        for label, key in rows:
            tag = f'   [{key}]' if label != key else ''
            lines.append(f'  {label:<{width}}  {self.last[key]:6.2f}{tag}')
        if labelled and self.chance is not None:
            lines.append(f"  {'chance':<{width}}  {self.chance:6.2f}")
        last_ckpt = osp.join(runner.work_dir, 'last_checkpoint')
        checkpoint = None
        if osp.isfile(last_ckpt):
            with open(last_ckpt) as f:
                checkpoint = f.read().strip() or None
        lines.append(f'Checkpoint: {checkpoint or "none saved"}')
        lines.append(f'Logs: {runner.log_dir}')
        if self.next_commands:
            lines.append('Next:')
            fill = dict(config=runner.cfg.filename or 'CONFIG',
                        checkpoint=checkpoint or 'CHECKPOINT',
                        work_dir=runner.work_dir)
            lines += [f'  {c.format(**fill)}' for c in self.next_commands]
        lines.append('=' * 72)
        return '\n'.join(lines)

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        runner.logger.info(self.summary(runner))
