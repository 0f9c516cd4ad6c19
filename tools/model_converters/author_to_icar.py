"""Convert the author's released iCAR checkpoint layout to icar_mm's.

``visual_model.backbone.*`` (official Swin layout with the author's renames
``rel_pos_embed_table`` / ``relative_coords`` / ``channel_reduction``) ->
``backbone.*`` (mmpretrain Swin), ``visual_model.projector.*`` ->
``visual_proj.*``, ``sentence_model.*`` -> ``text_encoder.*``. Prints every
key that is dropped or has no rule; with ``--config`` (an icar_mm ICAR
config) also every key the model expects but the file lacks and every shape
mismatch.

Example::

    python tools/model_converters/author_to_icar.py author.pth icar.pth \\
        --config configs/icar/icar_swin-b-roberta_8xb128_in22k-laion.py
"""
import argparse
import sys

import torch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="the author's checkpoint")
    parser.add_argument('dst', help='icar_mm checkpoint to write')
    parser.add_argument('--config', help='icar_mm ICAR config to check '
                        'the keys against')
    parser.add_argument('--strict', action='store_true',
                        help='exit with an error on any unmatched key')
    return parser.parse_args()


def main():
    args = parse_args()
    from icar_mm.converters.author_layout import author_to_icar
    from icar_mm.converters.icar_checkpoint import load_state_dict
    state = load_state_dict(args.src)
    expected = None
    if args.config:
        from mmengine.config import Config

        import icar_mm  # noqa: F401
        from icar_mm.registry import MODELS
        cfg = Config.fromfile(args.config)
        # the model and its parts build in icar_mm's scope
        expected = MODELS.build(dict(cfg.model,
                                     _scope_=MODELS.scope)).state_dict()
    converted, report = author_to_icar(state, expected)
    torch.save(dict(state_dict=converted, meta=dict(source=args.src)),
               args.dst)
    print(f'{args.dst}: {len(converted)} tensors')
    if expected is None:
        # without a model only dropped / unplaced keys are known
        report['missing'] = []
    print(report.format('icar_mm keys'))
    if args.strict and not report.ok:
        sys.exit(1)


if __name__ == '__main__':
    main()
