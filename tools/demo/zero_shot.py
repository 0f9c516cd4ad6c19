"""Zero-shot classification of an image over any texts.

    python tools/demo/zero_shot.py IMAGE CONFIG CHECKPOINT \\
        --texts "cat . dog . a red car" [--out-file vis.png]

Prints the classes ranked by probability; ``--descriptions FILE`` (JSON or
TSV class-text file) adds iCAR's "name, description" texts; ``--templates``
picks the prompt set (default: CLIP's 80 ImageNet templates).
"""
import os.path as osp
import shutil
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from demo_args import demo_parser  # noqa: E402  (puts the repo on sys.path)
import icar_mm  # noqa: E402,F401


def parse_args(argv=None):
    p = demo_parser('Zero-shot image classification', 'imagenet')
    p.add_argument('--image-size', type=int, default=None,
                   help='resize the image to this square size first')
    p.add_argument('--topk', type=int, default=5)
    p.add_argument('--out-file', default=None,
                   help='save a visualisation (image + ranking) here')
    return p.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    from icar_mm.apis import ZeroShotInferencer
    classes = args.texts
    if args.descriptions:
        from icar_mm.class_texts import benchmark_class_texts
        classes = benchmark_class_texts(classes, args.descriptions)
    inferencer = ZeroShotInferencer(args.config, args.checkpoint,
                                    args.device, templates=args.templates,
                                    image_size=args.image_size)
    tmp = tempfile.mkdtemp() if args.out_file else None
    result = inferencer(args.image, classes=classes, topk=args.topk,
                        show_dir=tmp)[0]
    for i, r in enumerate(result['ranking'], 1):
        print(f"{i}. {r['class_name']}\t{100 * r['score']:.2f}%")
    if args.out_file:
        shutil.move(result['visualization'], args.out_file)
        shutil.rmtree(tmp, ignore_errors=True)
        print(f'visualisation: {args.out_file}')
    return result['ranking']


if __name__ == '__main__':
    main()
