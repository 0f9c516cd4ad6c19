"""Open-vocabulary detection over any class list (no retraining).

    python tools/demo/det_texts.py IMAGE CONFIG CHECKPOINT \\
        --texts "purple star . blue diamond . dax" [--out-dir vis/]

Runs mmdet's ``DetInferencer`` on a detector whose box head is a
``Text*BBoxHead`` after swapping its vocabulary to ``--texts`` (classes
separated by `` . ``, as in ``DetInferencer``'s grounding models).
``--descriptions FILE`` (JSON/TSV class-text file) looks each name's
description up for iCAR's "name, description" texts; ``--templates`` picks
the prompt set. Prints one line per detection.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from demo_args import demo_parser  # noqa: E402  (puts the repo on sys.path)


def parse_args(argv=None):
    p = demo_parser('Open-vocabulary detection', 'imagenet-simple')
    p.add_argument('--score-thr', type=float, default=0.3)
    p.add_argument('--out-dir', default='',
                   help='save the visualisation under OUT_DIR/vis')
    return p.parse_args(argv)


def vocabulary_from_args(args) -> dict:
    """The ClassTextBank config of ``--texts`` / ``--descriptions``."""
    names = args.texts
    names = [n.rstrip(' .') for n in names]
    if not names:
        raise SystemExit('--texts holds no class name; separate classes '
                         'with " . ", e.g. --texts "cat . dog"')
    if args.descriptions:
        return dict(classes=names, file=args.descriptions,
                    templates=args.templates)
    return dict(classes=names, templates=args.templates,
                use_descriptions=False)


def main(argv=None):
    args = parse_args(argv)
    import icar_mm.downstream.det  # noqa: F401  (registers the heads)
    from icar_mm.downstream.det import set_detector_vocabulary
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        model=args.config, weights=args.checkpoint, device=args.device,
        show_progress=False)
    names = set_detector_vocabulary(inferencer.model,
                                    vocabulary_from_args(args))
    inferencer.visualizer.dataset_meta = inferencer.model.dataset_meta
    out = inferencer(
        args.image,
        pred_score_thr=args.score_thr,
        out_dir=args.out_dir,
        no_save_pred=True,
        return_datasamples=False)
    pred = out['predictions'][0]
    kept = [(s, lbl, box) for s, lbl, box in zip(
        pred['scores'], pred['labels'], pred['bboxes'])
            if s >= args.score_thr]
    print(f'{len(kept)} detections over {len(names)} classes')
    for score, label, box in kept:
        print(f'{score:.3f}  {names[label]:<24} '
              f'[{", ".join(f"{v:.1f}" for v in box)}]')
    return kept


if __name__ == '__main__':
    main()
