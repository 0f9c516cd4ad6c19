"""Measure zero-shot clip accuracy on the synthetic world (action recognition).

Trains the recognizer of
``configs/downstream/action/icar_swin3d-tiny-minilm_1xb16-8x1x1-600i_synthetic-world-clips.py``
(a tiny Video Swin from scratch + iCAR's text head with the MiniLM text tower)
on the 26 base (colour, motion) classes, then evaluates

* base accuracy on held-out clips of the base classes (26-way), and
* zero-shot accuracy on the 10 novel classes (10-way; chance 10 %) by
  swapping the head's class list to the novel classes' texts, no training,

and writes ``results.json`` under the work dir. CPU, one thread; about 10-15
minutes with the defaults.

    python tools/downstream/action_synthetic.py \
        --work-dir work_dirs/downstream_action [--iters 600]
"""
import argparse
import json
import os
import os.path as osp
import time

import torch

CONFIG = ('configs/downstream/action/'
          'icar_swin3d-tiny-minilm_1xb16-8x1x1-600i_synthetic-world-clips.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/downstream_action')
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--novel-clips', type=int, default=400)
    parser.add_argument('--base-clips', type=int, default=26 * 10)
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


@torch.no_grad()
def accuracy(model, dataset, batch_size: int = 32) -> float:
    """Top-1 accuracy of ``model`` on ``dataset``."""
    from mmengine.dataset import pseudo_collate
    model.eval()
    correct = 0
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start,
                                           min(start + batch_size,
                                               len(dataset)))]
        for pred in model.test_step(pseudo_collate(items)):
            correct += int(pred.pred_label.item() == pred.gt_label.item())
    return correct / len(dataset)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import icar_mm.downstream.action  # noqa: F401
    from mmaction.registry import DATASETS
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    n = args.iters
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=n,
                         val_interval=n + 1)
    warmup = min(50, n // 5)
    cfg.param_scheduler[0].update(end=warmup)
    cfg.param_scheduler[1].update(T_max=n - warmup, begin=warmup, end=n)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=n,
                                        by_epoch=False)
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()
    train_s = time.time() - start
    model = runner.model
    head = model.cls_head
    text = head.text_classifier.text_encoder
    val = DATASETS.build(dict(cfg.val_dataloader.dataset,
                              num_clips=args.base_clips))
    novel = DATASETS.build(dict(cfg.val_dataloader.dataset, split='novel',
                                num_clips=args.novel_clips))
    base_acc = accuracy(model, val)
    head.text_classifier.set_vocabulary(dict(
        source=dict(type='synthetic_world_clips', split='novel'),
        templates=cfg.templates))
    novel_acc = accuracy(model, novel)
    head.text_classifier.set_vocabulary(None)
    result = dict(
        config=args.config,
        iters=n,
        train_seconds=round(train_s, 1),
        text_encoder=(f'{type(text.model).__name__}, '
                      f'{text.model.config.num_hidden_layers} layers, '
                      f'{text.model.config.hidden_size}-d'),
        base_top1=base_acc,
        base_classes=26,
        base_chance=1 / 26,
        novel_zero_shot_top1=novel_acc,
        novel_classes=10,
        novel_chance=0.1,
        novel_clips=len(novel),
        base_clips=len(val))
    print(json.dumps(result, indent=1))
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
