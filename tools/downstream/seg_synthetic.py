"""Open-vocabulary segmentation on the synthetic world: measurement run.

Fine-tunes the synthetic-world UPerNet config (text cosine heads) on base
classes, starting from an iCAR checkpoint (backbone + text tower), then
evaluates with mmengine's Runner on three vocabularies of the validation
images, swapping the class list of the trained model (no retraining):

* ``all``     background + 26 base + 10 novel (generalised setting);
* ``heldout`` background + 10 novel (base pixels ignored; zero-shot setting);
* ``seen``    background + 26 base (novel pixels ignored).

Chance: a predictor that knows every object mask and gives each object a
uniformly random class of the vocabulary (expected IoU per class, see
:func:`icar_mm.datasets.synthetic_world.semantic.chance_iou`).

Example (about 15 min on one CPU thread)::

    python tools/downstream/seg_synthetic.py \
        --checkpoint work_dirs/demo/iter_600.pth --iters 600 \
        --work-dir work_dirs/seg_synthetic
"""
import argparse
import json
import os.path as osp
import time

import torch

CONFIG = ('configs/downstream/seg/'
          'upernet_r18-icar-text_1xb8-600it_synthetic-world-seg-64px.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--checkpoint', default=None,
                        help='iCAR pretraining checkpoint (backbone.* + '
                        'text_encoder.*); none: backbone from scratch, '
                        'text tower = MiniLM')
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--train-text', action='store_true',
                        help='fine-tune the text encoder (default: frozen)')
    parser.add_argument('--work-dir', default='work_dirs/seg_synthetic')
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmengine.runner import Runner

    import icar_mm  # noqa: F401
    import icar_mm.downstream.seg  # noqa: F401
    from icar_mm.apis import set_vocabulary
    from icar_mm.datasets.synthetic_world.semantic import (
        chance_iou, semantic_class_names)

    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    cfg.train_cfg.max_iters = args.iters
    cfg.train_cfg.val_interval = args.iters
    cfg.default_hooks.checkpoint.interval = args.iters
    warmup = min(50, args.iters // 2)
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[-1].begin = warmup
    cfg.param_scheduler[-1].end = args.iters
    head = cfg.model.decode_head
    head.text_classifier.freeze_text_encoder = not args.train_text
    if args.checkpoint:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=args.checkpoint, prefix='backbone.')
        head.text_classifier.text_encoder.init_cfg = dict(
            type='Pretrained', checkpoint=args.checkpoint,
            prefix='text_encoder.')
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_s = time.time() - start

    model = runner.model
    results = dict(config=args.config, checkpoint=args.checkpoint,
                   iters=args.iters, train_text=args.train_text,
                   train_seconds=round(train_s, 1), vocabularies={})
    data_root = cfg.val_dataloader.dataset.data_root
    for vocab in ('all', 'heldout', 'seen'):
        set_vocabulary(
            model, dict(source=dict(type='synthetic_world_semantic', split=vocab),
                 templates='synthetic-world'))
        val_cfg = cfg.val_dataloader.copy()
        val_cfg.dataset = dict(val_cfg.dataset, vocabulary=vocab)
        runner.val_loop.dataloader = Runner.build_dataloader(val_cfg)
        runner.val_loop.evaluator.dataset_meta = (
            runner.val_loop.dataloader.dataset.metainfo)
        metrics = runner.val_loop.run()
        chance = chance_iou(
            osp.join(data_root, 'ann', 'val'), vocab)
        names = semantic_class_names(vocab)
        novel = set(semantic_class_names('heldout')[1:])
        base = set(semantic_class_names('seen')[1:])
        for group, members in (('base', base), ('novel', novel)):
            values = [chance[n] for n in names if n in members]
            if values:
                metrics[f'chance_mIoU_{group}'] = round(
                    100 * sum(values) / len(values), 2)
        results['vocabularies'][vocab] = {
            k: float(v) for k, v in metrics.items()}
    set_vocabulary(model, None)
    out = osp.join(args.work_dir, 'seg_synthetic_results.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))
    print(f'written {out}')


if __name__ == '__main__':
    main()
