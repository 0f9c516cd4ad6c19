"""Open-vocabulary detection on the synthetic world: base / novel box AP.

Exports a COCO-format synthetic-world detection set (training images hold
base = seen classes only; validation images hold base and novel = held-out
classes), fine-tunes the synthetic-world Faster R-CNN with the text RoI
classifier on base classes, and evaluates with the vocabulary swapped to
all 36 class texts (``OVCocoMetric``: base_ap, novel_ap). Chance for novel
AP is measured, not assumed: the same detector is evaluated again with the
novel classes' texts permuted among themselves (a derangement), so a
novel AP above that one comes from the texts.

Starts (``--init``) from an icar_mm pretraining checkpoint (the demo's
ResNet-18 ``backbone.*`` = mmdet ResNet keys, its MiniLM ``text_encoder.*``)
or, with ``--init none``, from random backbone weights (and the
off-the-shelf MiniLM).

Example::

    python tools/downstream/det_synthetic.py \\
        --init work_dirs/demo/iter_600.pth --iters 600 \\
        --work-dir work_dirs/det_synthetic/icar
"""
import argparse
import json
import os
import os.path as osp
import time

CONFIG = ('configs/downstream/det/'
          'faster-rcnn_r18-text_fpn_1xb8_synthetic-world-ov.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--init', default='work_dirs/demo/iter_600.pth',
                        help="icar_mm checkpoint, or 'none'")
    parser.add_argument('--work-dir', default='work_dirs/det_synthetic/icar')
    parser.add_argument('--data-root', default='work_dirs/det_synthetic/data')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=150)
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--unfreeze-text', action='store_true',
                        help='fine-tune the text encoder too')
    parser.add_argument('--export-only', action='store_true')
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


def export(args):
    from icar_mm.datasets.synthetic_world.instances import \
        export_coco_instances
    ann = osp.join(args.data_root, 'annotations', 'val.json')
    if not osp.isfile(ann):
        export_coco_instances(
            args.data_root,
            dict(train=('base', args.num_train), val=('all', args.num_val)))
    return args.data_root.rstrip('/') + '/'


def build_cfg(args, data_root):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir
    for dl in (cfg.train_dataloader, cfg.val_dataloader):
        dl.dataset.data_root = data_root
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = data_root + 'annotations/val.json'
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg.max_iters = args.iters
    cfg.train_cfg.val_interval = args.iters
    cfg.default_hooks.checkpoint.interval = args.iters
    cfg.optim_wrapper.optimizer.lr = args.lr
    cfg.param_scheduler[1].end = args.iters
    head = cfg.model.roi_head.bbox_head
    head.text_classifier.freeze_text_encoder = not args.unfreeze_text
    if args.init != 'none':
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=args.init, prefix='backbone.')
        head.text_classifier.text_encoder.init_cfg = dict(
            type='Pretrained', checkpoint=args.init, prefix='text_encoder.')
        # pretrained BN statistics: keep them (as mmdet does)
        cfg.model.backbone.norm_eval = True
    return cfg


def deranged(names):
    """A cyclic shift: every class gets another class's text."""
    return names[1:] + names[:1]


def main():
    args = parse_args()
    import torch
    torch.set_num_threads(args.threads)
    import icar_mm  # noqa: F401
    data_root = export(args)
    if args.export_only:
        print(f'exported to {data_root}')
        return
    from mmengine.runner import Runner

    from icar_mm.datasets.synthetic_world import SyntheticWorld
    from icar_mm.downstream.det import set_detector_vocabulary
    t0 = time.time()
    runner = Runner.from_cfg(build_cfg(args, data_root))
    runner.train()
    metrics = runner.val_loop.run()
    train_s = time.time() - t0
    # chance: novel classes scored with each other's texts
    world = SyntheticWorld()
    seen, heldout = world.classes('seen'), world.classes('heldout')
    model = runner.model
    set_detector_vocabulary(
        model, dict(classes=seen + deranged(heldout),
                    templates='synthetic-world'))
    model.dataset_meta = runner.val_dataloader.dataset.metainfo
    shuffled = runner.val_loop.run()
    result = dict(
        init=args.init,
        iters=args.iters,
        text_encoder='fine-tuned' if args.unfreeze_text else 'frozen',
        num_train_images=args.num_train,
        num_val_images=args.num_val,
        train_and_eval_seconds=round(train_s, 1),
        metrics={k: float(v) for k, v in metrics.items()},
        novel_texts_permuted={k: float(v) for k, v in shuffled.items()})
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
