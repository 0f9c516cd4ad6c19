"""Evaluate an iCAR checkpoint with the protocols of CLIP and the iCAR paper.

Zero-shot classification on ImageNet-1K and Kornblith-12 (every dataset
found under --data-root; absent ones are skipped with a notice)::

    python tools/evaluate.py zero-shot CONFIG CHECKPOINT --data-root data \\
        --datasets imagenet kornblith12 --descriptions wordnet --out-dir OUT

writes OUT/zero_shot.{json,md,png}: each dataset with its protocol's metric
(top-1; mean per-class accuracy for Aircraft, Pets, Caltech-101, Flowers;
11-point mAP for VOC 2007) under CLIP's names and, with --descriptions,
iCAR's "name, description" class texts; and the mean.

Linear probe and few-shot (K = 1, 2, 4, 8, 16; 3 seeds) on frozen features
cached in --cache-dir::

    python tools/evaluate.py linear-probe CONFIG CHECKPOINT --data-root data \\
        --datasets kornblith12 --out-dir OUT

Image-text retrieval (Karpathy split JSON)::

    python tools/evaluate.py retrieval CONFIG CHECKPOINT \\
        --ann-file data/coco/dataset_coco.json --image-root data/coco

Pseudo-datasets: ``config`` (the config's own test set and vocabularies,
i.e. what training's validation reports) and ``synthetic_world``.
"""
import argparse
import json
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import icar_mm  # noqa: E402,F401
from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='task', required=True)

    def common(p):
        p.add_argument('config')
        p.add_argument('checkpoint')
        p.add_argument('--out-dir', default='work_dirs/eval')
        p.add_argument('--device', default='cpu')
        p.add_argument('--batch-size', type=int, default=64)
        p.add_argument('--num-workers', type=int, default=0)
        p.add_argument('--image-size', type=int, default=224,
                       help='test resize (short side) and centre crop')
        p.add_argument('--cfg-options', nargs='+', action=DictAction)

    def with_data(p):
        p.add_argument('--data-root', default='data')
        p.add_argument('--datasets', nargs='+', default=['all'],
                       help='benchmark names, "kornblith12", "all", '
                       '"config" or "synthetic_world"')
        p.add_argument('--dataset-dir', nargs='+', action=DictAction,
                       default={}, help='NAME=FOLDER overrides')

    zs = sub.add_parser('zero-shot', help='zero-shot classification')
    common(zs)
    with_data(zs)
    zs.add_argument('--descriptions', default=None,
                    help='"wordnet" or a JSON/TSV class-text file: also '
                    'evaluate "name, description" class texts')
    zs.add_argument('--no-names', action='store_true',
                    help='skip the names-only vocabulary')
    zs.add_argument('--keep-case', action='store_true',
                    help='do not lower-case class texts')

    lp = sub.add_parser('linear-probe', help='linear probe and few-shot')
    common(lp)
    with_data(lp)
    lp.add_argument('--shots', type=int, nargs='+',
                    default=[1, 2, 4, 8, 16])
    lp.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    lp.add_argument('--no-linear', action='store_true')
    lp.add_argument('--no-few-shot', action='store_true')
    lp.add_argument('--feature', choices=['backbone', 'embedding'],
                    default='backbone')
    lp.add_argument('--cache-dir', default=None,
                    help='feature cache (default OUT_DIR/feature_cache)')
    lp.add_argument('--max-iter', type=int, default=1000)

    rt = sub.add_parser('retrieval', help='image-text retrieval R@1/5/10')
    common(rt)
    rt.add_argument('--ann-file', required=True,
                    help='Karpathy split JSON (dataset_coco.json, ...)')
    rt.add_argument('--image-root', default='')
    rt.add_argument('--split', default='test')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from icar_mm.apis import init_model
    from icar_mm import evaluation as ev
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    cfg = model.cfg
    if args.task == 'zero-shot':
        results = ev.run_zero_shot(
            model, args.data_root, args.datasets, args.out_dir, cfg=cfg,
            image_size=args.image_size, descriptions=args.descriptions,
            names_only=not args.no_names, dataset_dirs=args.dataset_dir,
            batch_size=args.batch_size, num_workers=args.num_workers,
            lowercase=not args.keep_case)
        print(open(results['files']['markdown']).read())
    elif args.task == 'linear-probe':
        results = ev.run_linear_probe(
            model, args.data_root, args.datasets, args.out_dir, cfg=cfg,
            image_size=args.image_size, shots=args.shots, seeds=args.seeds,
            linear=not args.no_linear, few_shot=not args.no_few_shot,
            feature=args.feature,
            cache_dir=args.cache_dir or osp.join(args.out_dir,
                                                 'feature_cache'),
            dataset_dirs=args.dataset_dir, batch_size=args.batch_size,
            num_workers=args.num_workers, max_iter=args.max_iter)
        print(open(results['files']['markdown']).read())
    else:
        from icar_mm.datasets.benchmarks import KarpathyRetrievalDataset
        from icar_mm.evaluation.benchmark import image_pipeline
        import os
        dataset = KarpathyRetrievalDataset(
            ann_file=args.ann_file, split=args.split,
            data_prefix=args.image_root,
            pipeline=image_pipeline(args.image_size))
        results = ev.evaluate_retrieval(model, dataset, args.batch_size)
        os.makedirs(args.out_dir, exist_ok=True)
        with open(osp.join(args.out_dir, 'retrieval.json'), 'w') as f:
            json.dump(results, f, indent=1)
        print(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
