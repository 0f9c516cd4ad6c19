"""Write an icar_mm model with CLIP towers as a Hugging Face CLIP checkpoint.

For an ICAR trained from a CLIP (``HFCLIPVisionBackbone`` + the
``TextEncoder`` of a CLIP directory, ``init_from_clip``): writes
``OUT_DIR`` with ``CLIPModel.save_pretrained`` (``vision_model.*``,
``visual_projection``, ``text_model.*``, ``text_projection``,
``logit_scale``) and the reference CLIP's tokenizer, so that
``transformers.CLIPModel.from_pretrained(OUT_DIR)`` gives the embeddings of
the icar_mm model. Prints the key report; every CLIPModel key must be
filled with the right shape unless ``--no-strict``.

Example::

    python tools/model_converters/icar_to_hf_clip.py \\
        work_dirs/finetune_clip/iter_1000.pth /models/clip-vit-base-patch32 \\
        work_dirs/finetune_clip/hf
"""
import argparse


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='icar_mm checkpoint')
    parser.add_argument('reference', help='the CLIP directory the towers '
                        'were built from (config, tokenizer)')
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument('--no-strict', action='store_true',
                        help='write even if some CLIPModel keys are not '
                        'filled (they keep a random initialisation)')
    return parser.parse_args()


def main():
    args = parse_args()
    from icar_mm.converters.clip_hf import export_hf_clip
    from icar_mm.converters.icar_checkpoint import load_state_dict
    report = export_hf_clip(load_state_dict(args.src), args.reference,
                            args.out_dir, strict=not args.no_strict)
    print(report.format('CLIPModel keys'))
    print(f'{args.out_dir}: load with transformers.CLIPModel.'
          'from_pretrained')


if __name__ == '__main__':
    main()
