"""Convert an icar_mm pretraining checkpoint for mmdet / mmseg.

Writes ``OUT_DIR/backbone_{host}.pth`` (``backbone.*`` in the host's
layout) and ``OUT_DIR/text_encoder.pth`` (the text tower, ``text_encoder.*``)
and prints every key that does not match the host backbone. Use them as::

    backbone=dict(..., init_cfg=dict(type='Pretrained',
        checkpoint='OUT_DIR/backbone_mmdet.pth', prefix='backbone.'))
    text_classifier=dict(text_encoder=dict(..., init_cfg=dict(
        type='Pretrained', checkpoint='OUT_DIR/text_encoder.pth',
        prefix='text_encoder.')))

Example::

    python tools/model_converters/icar_to_mmdet_mmseg.py \\
        work_dirs/icar_swin-b/epoch_30.pth work_dirs/icar_swin-b/mmdet \\
        --host mmdet --config configs/downstream/det/<config>.py
"""
import argparse
import ast
import os
import os.path as osp
import sys

import torch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='icar_mm checkpoint')
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument('--host', choices=['mmdet', 'mmseg'],
                        default='mmdet')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--config',
                       help='host config whose model.backbone to check '
                       'the keys against')
    group.add_argument('--backbone-cfg',
                       help='host backbone config as a Python dict literal '
                       "(e.g. \"dict(type='SwinTransformer', ...)\")")
    parser.add_argument('--strict', action='store_true',
                        help='exit with an error on any unmatched key')
    return parser.parse_args()


def _host_backbone(args):
    if args.config is None and args.backbone_cfg is None:
        return None
    import icar_mm  # noqa: F401  (stack fixes)
    if args.host == 'mmdet':
        import mmdet.models  # noqa: F401
        from mmdet.registry import MODELS
    else:
        import mmseg.models  # noqa: F401
        from mmseg.registry import MODELS
    if args.config is not None:
        from mmengine.config import Config
        cfg = dict(Config.fromfile(args.config).model.backbone)
    else:
        tree = ast.parse(args.backbone_cfg, mode='eval').body
        if not (isinstance(tree, ast.Call) and getattr(tree.func, 'id',
                                                       '') == 'dict'):
            raise SystemExit('--backbone-cfg must be a dict(...) literal')
        cfg = {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}
    cfg.pop('init_cfg', None)
    cfg.pop('convert_weights', None)
    # the backbone (and what it builds) in the host's scope
    return MODELS.build(dict(cfg, _scope_=MODELS.scope))


def main():
    args = parse_args()
    from icar_mm.converters.icar_checkpoint import (convert_icar_checkpoint,
                                                    load_state_dict)
    state = load_state_dict(args.src)
    out = convert_icar_checkpoint(state, _host_backbone(args))
    os.makedirs(args.out_dir, exist_ok=True)
    meta = dict(source=osp.abspath(args.src), host=args.host)
    backbone_file = osp.join(args.out_dir, f'backbone_{args.host}.pth')
    torch.save(dict(state_dict=out['backbone'], meta=meta), backbone_file)
    text_file = osp.join(args.out_dir, 'text_encoder.pth')
    torch.save(dict(state_dict=out['text_encoder'], meta=meta), text_file)
    print(f'{backbone_file}: {len(out["backbone"])} backbone tensors')
    print(f'{text_file}: {len(out["text_encoder"])} text-tower tensors')
    print(f'not exported ({len(out["not_exported"])}): ' +
          ', '.join(k for k, _ in out['not_exported']))
    report = out['report']
    if report is None:
        print('backbone keys: not checked (give --config or --backbone-cfg)')
        return
    print(report.format('backbone keys'))
    if args.strict and not report.ok:
        sys.exit(1)


if __name__ == '__main__':
    main()
