"""The end-of-run summary: labelled metrics, chance, the others by key."""
from types import SimpleNamespace

from icar_mm.engine.hooks import RunSummaryHook


def _runner(tmp_path, iteration):
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    return SimpleNamespace(
        iter=iteration, experiment_name='run', work_dir=str(tmp_path),
        log_dir=str(tmp_path / 'log'), cfg=SimpleNamespace(filename='C.py'))


def test_labelled_metrics_with_chance_then_the_others(tmp_path):
    hook = RunSummaryHook(metrics={'heldout/top1': 'held-out, described'},
                          chance=10.0,
                          next_commands=['test.py {config} {checkpoint}'])
    runner = _runner(tmp_path, 4)
    hook.after_val_epoch(runner, {'heldout/top1': 61.25, 'extra/top5': 90.})
    lines = hook.summary(runner).splitlines()
    assert 'validation after iteration 4' in lines[2]
    assert lines[3].split() == ['held-out,', 'described', '61.25',
                                '[heldout/top1]']
    assert lines[4].split() == ['extra/top5', '90.00']
    assert lines[5].split() == ['chance', '10.00']
    assert f"Checkpoint: {tmp_path / 'iter_4.pth'}" in lines
    assert f"  test.py C.py {tmp_path / 'iter_4.pth'}" in lines


def test_a_config_validating_something_else_shows_what_it_measured(
        tmp_path):
    """A derived config (seen-class accuracy): no held-out label, no
    held-out chance level, its own metric by key."""
    hook = RunSummaryHook(metrics={'heldout/top1': 'held-out'}, chance=10.0)
    runner = _runner(tmp_path, 200)
    hook.after_val_epoch(runner, {'accuracy/top1': 34.0})
    text = hook.summary(runner)
    assert 'accuracy/top1' in text and '34.00' in text
    assert 'held-out' not in text and 'chance' not in text
    assert '(no validation ran)' in RunSummaryHook().summary(runner)
