"""Write an OpenCLIP checkpoint as a Hugging Face CLIP directory.

The directory (``CLIPModel.save_pretrained``, OpenCLIP's tokenizer as a
``CLIPTokenizer``, the image processor) is what icar_mm's CLIP towers load:
``TextEncoder(pretrained=OUT_DIR)``, ``HFCLIPVisionBackbone(
pretrained=OUT_DIR)``, ``ICAR(init_from_clip=OUT_DIR)``. Needs
``open_clip_torch`` (``pip install -r requirements/clip.txt``).

Example::

    python tools/model_converters/openclip_to_hf_clip.py ViT-B-32 \\
        /models/open_clip_vit_b_32_laion2b.bin /models/vit-b-32-laion2b
    # a model config of your own: --model-config my-vit.json
"""
import argparse


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model_name', help='OpenCLIP model config name')
    parser.add_argument('checkpoint', help='its state-dict file')
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument('--model-config', help='a JSON model config file to '
                        'add first (open_clip.add_model_config); its file '
                        'name is the model name')
    parser.add_argument('--quick-gelu', action='store_true', default=None,
                        help='QuickGELU activations whatever the config '
                        'says (OpenAI\'s weights)')
    return parser.parse_args()


def main():
    args = parse_args()
    import icar_mm  # noqa: F401  (stack fixes before open_clip)
    from icar_mm.converters.clip_openclip import openclip_to_hf_clip
    if args.model_config:
        import open_clip
        open_clip.add_model_config(args.model_config)
    report = openclip_to_hf_clip(args.model_name, args.checkpoint,
                                 args.out_dir, quick_gelu=args.quick_gelu)
    print(report.format('CLIPModel keys'))
    print(f'{args.out_dir}: TextEncoder(pretrained=...), '
          'HFCLIPVisionBackbone(pretrained=...), ICAR(init_from_clip=...)')


if __name__ == '__main__':
    main()
