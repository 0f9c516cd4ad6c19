"""Know on every rank whether the CheckpointHook saves at this step."""
from mmengine.hooks import CheckpointHook


def checkpoint_due(runner, stage: str = 'iter') -> bool:
    """Whether the runner's ``CheckpointHook`` saves after this train step.

    ``Runner.save_checkpoint`` and hence every ``before_save_checkpoint``
    hook run on rank 0 only, so a hook that must collect something from all
    ranks (random states, data-stream positions) has to do it earlier, in
    ``after_train_iter`` / ``after_train_epoch`` where every rank runs, and
    only when a checkpoint is due. This mirrors the CheckpointHook's rule.

    Args:
        runner (Runner): The runner.
        stage (str): ``'iter'`` (called in ``after_train_iter``) or
            ``'epoch'`` (in ``after_train_epoch``).

    Returns:
        bool: True if a CheckpointHook will save right after this step.
    """
    for hook in runner.hooks:
        if not isinstance(hook, CheckpointHook):
            continue
        if stage == 'iter' and not hook.by_epoch:
            return hook.every_n_train_iters(
                runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner))
        if stage == 'epoch' and hook.by_epoch:
            return hook.every_n_epochs(runner, hook.interval,
                                       hook.save_begin) or (
                                           hook.save_last
                                           and hook.is_last_train_epoch(runner))
    return False
