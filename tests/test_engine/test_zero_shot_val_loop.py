"""ZeroShotValLoop equals evaluating each vocabulary on its own."""
import torch
from mmengine.runner import Runner

import icar_mm  # noqa: F401
from icar_mm.class_texts import ClassTextBank
from tiny_models import small_demo_cfg


def test_each_vocabulary_scored_as_if_alone(tmp_path):
    cfg = small_demo_cfg(str(tmp_path), 0, **{
        'val_dataloader.dataset.num_per_class': 6,
        'val_dataloader.batch_size': 16,
        'val_dataloader.num_workers': 0,
    })
    runner = Runner.from_cfg(cfg)
    torch.manual_seed(0)
    metrics = runner.val_loop.run()
    assert set(metrics) == {'heldout/accuracy/top1',
                            'heldout_names/accuracy/top1'}

    model = runner.model
    model.eval()
    loader = runner.val_loop.dataloader
    for name, vocab_cfg in cfg.heldout_vocabularies.items():
        model.text_classifier.set_vocabulary(ClassTextBank(**vocab_cfg))
        correct = total = 0
        with torch.no_grad():
            for batch in loader:
                for sample in model.val_step(batch):
                    correct += int(sample.pred_label == sample.gt_label)
                    total += 1
        assert total == len(loader.dataset) == 60
        assert abs(metrics[f'{name}/accuracy/top1'] -
                   100. * correct / total) < 1e-6
    model.text_classifier.set_vocabulary(None)


def test_no_vocabulary_scores_the_training_classes(tmp_path):
    cfg = small_demo_cfg(str(tmp_path), 0, **{
        'val_dataloader.dataset.split': 'val',
        'val_dataloader.dataset.num_per_class': 2,
        'val_dataloader.batch_size': 16,
        'val_dataloader.num_workers': 0,
        'val_cfg.vocabularies': dict(seen=None),
    })
    runner = Runner.from_cfg(cfg)
    metrics = runner.val_loop.run()
    model = runner.model
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in runner.val_loop.dataloader:
            for sample in model.val_step(batch):
                correct += int(sample.pred_label == sample.gt_label)
                total += 1
    assert total == 52
    assert abs(metrics['seen/accuracy/top1'] - 100. * correct / total) < 1e-6
