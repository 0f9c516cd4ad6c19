"""Inflate an iCAR (2D Swin) checkpoint into an mmaction2 Video Swin one.

Reads an icar_mm pretraining checkpoint (``backbone.*`` in mmpretrain's
SwinTransformer layout, ``visual_proj.weight``, ``text_encoder.*``) or a
bare 2D Swin state dict (``--backbone-only``), inflates the backbone to
``SwinTransformer3D`` (see ``icar_mm/converters/video_swin_inflation.py``),
moves projection and text tower to the ``TextRecognizerHead`` and writes
``dict(state_dict=...)`` for ``load_from``. Every unused source key is
reported; with ``--config`` the result is checked against the recognizer
built from that config (missing / unexpected / mis-shaped keys) and the
tool exits 1 on any backbone mismatch.

    python tools/model_converters/swin2d_to_video_swin.py SRC DST \
        [--window-size 8 7 7] [--patch-size-t 2] [--temporal-init repeat] \
        [--config configs/downstream/action/...py] [--no-head]
"""
import argparse
import os
import os.path as osp
import sys

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='icar_mm checkpoint (or 2D Swin weights)')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--window-size', type=int, nargs=3,
                        default=[8, 7, 7], metavar=('WD', 'WH', 'WW'))
    parser.add_argument('--patch-size-t', type=int, default=2)
    parser.add_argument('--temporal-init', default='repeat',
                        choices=['repeat', 'centre'],
                        help='repeat: kernel / T on every frame; centre: '
                        'kernel on the centre frame only')
    parser.add_argument('--backbone-only', action='store_true',
                        help='SRC is a bare 2D Swin state dict (no '
                        '`backbone.` prefix)')
    parser.add_argument('--no-head', action='store_true',
                        help='do not convert visual_proj / text_encoder')
    parser.add_argument('--config', help='recognizer config to check against')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    import icar_mm  # noqa: F401  (stack fixes, safe checkpoint loading)
    from icar_mm.converters.video_swin_inflation import (
        check_state_dict, format_report, icar_to_video_recognizer,
        load_icar_state_dict)
    state = load_icar_state_dict(args.src)
    if args.backbone_only:
        state = {'backbone.' + k: v for k, v in state.items()}
    out, unused = icar_to_video_recognizer(
        state, window_size=args.window_size, patch_size_t=args.patch_size_t,
        temporal_init=args.temporal_init, with_head=not args.no_head)
    check = None
    if args.config:
        import icar_mm.downstream.action  # noqa: F401
        from mmaction.registry import MODELS
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        # the recognizer and its parts build in mmaction2's scope
        model = MODELS.build(dict(cfg.model, _scope_=MODELS.scope))
        target = model.state_dict()
        if args.no_head:
            target = {k: v for k, v in target.items()
                      if k.startswith('backbone.')}
        check = check_state_dict(out, target)
        # the head's own (randomly initialised) parts are not in SRC
        check['missing'] = [k for k in check['missing']
                            if k.startswith('backbone.')
                            or k.startswith('cls_head.text_classifier.'
                                            'text_encoder.')
                            or k == 'cls_head.proj.weight']
    print(format_report(unused, check))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=out, meta=dict(
        source=osp.abspath(args.src), window_size=args.window_size,
        patch_size_t=args.patch_size_t, temporal_init=args.temporal_init)),
               args.dst)
    print(f'wrote {len(out)} tensors to {args.dst}')
    if check and (check['missing'] or check['unexpected'] or check['shape']):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
