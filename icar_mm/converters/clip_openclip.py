"""An OpenCLIP checkpoint -> a Hugging Face CLIP directory.

OpenCLIP's ViT CLIPs (``CLIP`` / ``CustomTextCLIP`` with OpenCLIP's own text
transformer and tokenizer) are the architecture of transformers'
``CLIPModel``: the same pre-norm blocks, a causal text transformer pooled
at the end-of-text token (OpenCLIP's ``argmax``: the end-of-text token has
the largest id) after ``ln_final``, the class token pooled after
``ln_post``, bias-free projections. :func:`openclip_to_hf_clip` rewrites a
checkpoint of such a model (an OpenCLIP model config name + a state-dict
file) as a ``CLIPModel`` directory with OpenCLIP's tokenizer as a
``CLIPTokenizer``; icar_mm's CLIP towers (``TextEncoder(pretrained=DIR)``,
``HFCLIPVisionBackbone(pretrained=DIR)``, ``ICAR(init_from_clip=DIR)``)
then load it, and their embeddings equal OpenCLIP's ``encode_text`` /
``encode_image``.

Other OpenCLIP architectures (ResNet or timm image towers, Hugging Face
text towers, SigLIP, CoCa, layer scale, attentional pooling, other
tokenizers...) are refused by name.

Needs ``open_clip_torch`` (``requirements/clip.txt``), imported here only.
"""
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .key_report import KeyReport, compare_keys

#: model-config keys understood (others are refused)
MODEL_KEYS = ('embed_dim', 'quick_gelu', 'vision_cfg', 'text_cfg',
              'custom_text', 'cast_dtype', 'init_logit_scale',
              'preprocess_cfg')
#: vision / text config fields mapped (the others must keep their default)
VISION_KEYS = ('layers', 'width', 'head_width', 'mlp_ratio', 'patch_size',
               'image_size', 'norm_kwargs', 'patch_dropout', 'output_tokens')
TEXT_KEYS = ('context_length', 'vocab_size', 'width', 'heads', 'layers',
             'mlp_ratio', 'norm_kwargs', 'pad_id', 'eos_id', 'output_tokens')
#: OpenCLIP's SimpleTokenizer: vocabulary size, start and end of text ids
VOCAB_SIZE, SOT_ID, EOT_ID = 49408, 49406, 49407


def _check_fields(cfg_class, given: Mapping, mapped, where: str) -> None:
    defaults = cfg_class()
    bad = sorted(
        f'{where}.{k}={v!r}' for k, v in given.items()
        if k not in mapped and (not hasattr(defaults, k)
                                or getattr(defaults, k) != v))
    if bad:
        raise ValueError(
            'This OpenCLIP architecture is not a transformers CLIPModel; '
            f'unsupported settings: {", ".join(bad)}.')


def _eps(cfg: Mapping, where: str) -> float:
    kwargs = dict(cfg.get('norm_kwargs') or {})
    eps = kwargs.pop('eps', 1e-5)
    if kwargs:
        raise ValueError(f'{where}.norm_kwargs={cfg["norm_kwargs"]!r}: only '
                         'eps is supported.')
    return eps


def openclip_hf_config(model_cfg: Mapping, quick_gelu: Optional[bool] = None):
    """The ``CLIPConfig`` of an OpenCLIP model config.

    Args:
        model_cfg (Mapping): ``open_clip.get_model_config(name)``.
        quick_gelu (bool, optional): Override the config's ``quick_gelu``
            (OpenCLIP forces it for OpenAI's weights). Defaults to None.

    Returns:
        transformers.CLIPConfig: The equivalent configuration.
    """
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg
    from transformers import CLIPConfig
    unknown = sorted(set(model_cfg) - set(MODEL_KEYS))
    if unknown:
        raise ValueError('This OpenCLIP architecture is not a transformers '
                         f'CLIPModel; unsupported model settings: {unknown}.')
    vision, text = dict(model_cfg['vision_cfg']), dict(model_cfg['text_cfg'])
    _check_fields(CLIPVisionCfg, vision, VISION_KEYS, 'vision_cfg')
    _check_fields(CLIPTextCfg, text, TEXT_KEYS, 'text_cfg')
    v, t = CLIPVisionCfg(**vision), CLIPTextCfg(**text)
    if not isinstance(v.layers, int):
        raise ValueError(f'vision_cfg.layers={v.layers!r}: a ResNet image '
                         'tower, not a ViT.')
    size = v.image_size
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise ValueError(f'vision_cfg.image_size={size!r}: transformers '
                             'CLIP takes square images only.')
        size = size[0]
    if t.vocab_size != VOCAB_SIZE:
        raise ValueError(f'text_cfg.vocab_size={t.vocab_size}: not '
                         f'OpenCLIP\'s tokenizer ({VOCAB_SIZE} tokens).')
    if quick_gelu is None:
        quick_gelu = bool(model_cfg.get('quick_gelu', False))
    act = 'quick_gelu' if quick_gelu else 'gelu'
    return CLIPConfig(
        text_config=dict(
            vocab_size=t.vocab_size, hidden_size=t.width,
            intermediate_size=int(t.width * t.mlp_ratio),
            num_hidden_layers=t.layers, num_attention_heads=t.heads,
            max_position_embeddings=t.context_length, hidden_act=act,
            layer_norm_eps=_eps(text, 'text_cfg'), bos_token_id=SOT_ID,
            eos_token_id=EOT_ID, pad_token_id=EOT_ID),
        vision_config=dict(
            hidden_size=v.width, intermediate_size=int(v.width * v.mlp_ratio),
            num_hidden_layers=v.layers,
            num_attention_heads=v.width // v.head_width, image_size=size,
            patch_size=v.patch_size, hidden_act=act,
            layer_norm_eps=_eps(vision, 'vision_cfg')),
        projection_dim=model_cfg['embed_dim'])


def _blocks(src: Mapping[str, torch.Tensor], src_prefix: str,
            dst_prefix: str, out: Dict[str, torch.Tensor],
            used: set) -> None:
    """OpenCLIP residual blocks -> ``CLIPEncoderLayer`` s."""
    i = 0
    while f'{src_prefix}{i}.ln_1.weight' in src:
        s, d = f'{src_prefix}{i}.', f'{dst_prefix}{i}.'
        names = {'ln_1': 'layer_norm1', 'ln_2': 'layer_norm2',
                 'attn.out_proj': 'self_attn.out_proj', 'mlp.c_fc': 'mlp.fc1',
                 'mlp.c_proj': 'mlp.fc2'}
        for a, b in names.items():
            for p in ('weight', 'bias'):
                out[f'{d}{b}.{p}'] = src[f'{s}{a}.{p}']
                used.add(f'{s}{a}.{p}')
        for p in ('weight', 'bias'):
            qkv = src[f'{s}attn.in_proj_{p}']
            used.add(f'{s}attn.in_proj_{p}')
            for name, part in zip(('q', 'k', 'v'), qkv.chunk(3)):
                out[f'{d}self_attn.{name}_proj.{p}'] = part.clone()
        i += 1


def openclip_state_to_hf(
    state: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], List[Tuple[str, str]]]:
    """OpenCLIP ``CLIP`` / ``CustomTextCLIP`` keys -> ``CLIPModel`` keys.

    Returns:
        tuple: the ``CLIPModel`` state and ``(key, reason)`` of the
        OpenCLIP keys left out.
    """
    state = dict(state)
    if 'logit_bias' in state:
        raise ValueError('logit_bias: a SigLIP checkpoint (sigmoid loss), '
                         'not a CLIP one.')
    # CustomTextCLIP keeps the text tower under `text.`
    text = 'text.' if 'text.token_embedding.weight' in state else ''
    out, used = {}, set()

    def take(src, dst, transpose=False):
        if src not in state:
            raise ValueError(f'No {src!r}: not the state dict of an '
                             'OpenCLIP ViT CLIP.')
        value = state[src]
        out[dst] = value.t().contiguous() if transpose else value
        used.add(src)

    take(f'{text}token_embedding.weight',
         'text_model.embeddings.token_embedding.weight')
    take(f'{text}positional_embedding',
         'text_model.embeddings.position_embedding.weight')
    _blocks(state, f'{text}transformer.resblocks.',
            'text_model.encoder.layers.', out, used)
    for p in ('weight', 'bias'):
        take(f'{text}ln_final.{p}', f'text_model.final_layer_norm.{p}')
    take(f'{text}text_projection', 'text_projection.weight', transpose=True)
    take('visual.class_embedding', 'vision_model.embeddings.class_embedding')
    take('visual.conv1.weight',
         'vision_model.embeddings.patch_embedding.weight')
    take('visual.positional_embedding',
         'vision_model.embeddings.position_embedding.weight')
    for p in ('weight', 'bias'):
        take(f'visual.ln_pre.{p}', f'vision_model.pre_layrnorm.{p}')
        take(f'visual.ln_post.{p}', f'vision_model.post_layernorm.{p}')
    _blocks(state, 'visual.transformer.resblocks.',
            'vision_model.encoder.layers.', out, used)
    take('visual.proj', 'visual_projection.weight', transpose=True)
    take('logit_scale', 'logit_scale')
    dropped = [(k, 'not part of a CLIPModel') for k in state if k not in used]
    return out, dropped


def load_openclip_state(checkpoint: str) -> Dict[str, torch.Tensor]:
    """An OpenCLIP checkpoint's state dict (``torch.load`` with
    ``weights_only=True``; a training checkpoint's ``state_dict`` without
    its DDP ``module.`` prefix)."""
    ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True)
    if isinstance(ckpt, Mapping) and isinstance(
            ckpt.get('state_dict'), Mapping):
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{checkpoint}: not a state dict ({type(ckpt)}).')
    if ckpt and all(k.startswith('module.') for k in ckpt):
        ckpt = {k[len('module.'):]: v for k, v in ckpt.items()}
    return dict(ckpt)


def save_openclip_tokenizer(out_dir: str, context_length: int = 77) -> None:
    """OpenCLIP's ``SimpleTokenizer`` (OpenAI's BPE, bundled with
    open_clip) as a Hugging Face ``CLIPTokenizer`` in ``out_dir``: the
    same vocabulary and merges, the same ids."""
    import json

    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizerFast
    simple = SimpleTokenizer()
    special = {'<start_of_text>': '<|startoftext|>',
               '<end_of_text>': '<|endoftext|>'}
    vocab = {special.get(k, k): v for k, v in simple.encoder.items()}
    if len(vocab) != VOCAB_SIZE or vocab['<|endoftext|>'] != EOT_ID:
        raise ValueError('open_clip\'s SimpleTokenizer is not the expected '
                         f'{VOCAB_SIZE}-token BPE.')
    merges = sorted(simple.bpe_ranks, key=simple.bpe_ranks.get)
    os.makedirs(out_dir, exist_ok=True)
    vocab_file = osp.join(out_dir, 'vocab.json')
    merges_file = osp.join(out_dir, 'merges.txt')
    with open(vocab_file, 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(merges_file, 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    CLIPTokenizerFast(vocab_file=vocab_file, merges_file=merges_file,
                      model_max_length=context_length).save_pretrained(out_dir)


def _save_image_processor(out_dir: str, model_cfg: Mapping,
                          image_size: int) -> None:
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from transformers import CLIPImageProcessor
    pre = model_cfg.get('preprocess_cfg') or {}
    CLIPImageProcessor(
        size={'shortest_edge': image_size},
        crop_size={'height': image_size, 'width': image_size},
        image_mean=list(pre.get('mean', OPENAI_DATASET_MEAN)),
        image_std=list(pre.get('std', OPENAI_DATASET_STD))).save_pretrained(
            out_dir)


def openclip_to_hf_clip(model_name: str,
                        checkpoint: str,
                        out_dir: str,
                        quick_gelu: Optional[bool] = None,
                        strict: bool = True) -> KeyReport:
    """Write an OpenCLIP checkpoint as a Hugging Face CLIP directory.

    Args:
        model_name (str): An OpenCLIP model config name (``'ViT-B-32'``,
            or one added with ``open_clip.add_model_config``).
        checkpoint (str): Its state-dict file (``torch.save``; loaded with
            ``weights_only=True``).
        out_dir (str): The output directory (``CLIPModel.save_pretrained``
            + tokenizer + image processor).
        quick_gelu (bool, optional): Override the config's ``quick_gelu``
            (True for OpenAI's weights under a name without
            ``-quickgelu``, as OpenCLIP's ``pretrained='openai'`` forces
            it). Defaults to None (the config's).
        strict (bool): Refuse unless every ``CLIPModel`` key is filled
            with the right shape and every checkpoint key is used.
            Defaults to True.

    Returns:
        KeyReport: The comparison with ``CLIPModel``'s keys.
    """
    import open_clip
    from transformers import CLIPModel
    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise ValueError(
            f'{model_name!r} is not an OpenCLIP model config (known: '
            'open_clip.list_models(); add one with '
            'open_clip.add_model_config).')
    config = openclip_hf_config(model_cfg, quick_gelu)
    converted, dropped = openclip_state_to_hf(load_openclip_state(checkpoint))
    model = CLIPModel(config)
    report = compare_keys(converted, model.state_dict(), dropped)
    if strict and (not report.ok or dropped):
        raise ValueError(report.format(f'{checkpoint} -> CLIPModel keys'))
    model.load_state_dict(converted, strict=strict)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    save_openclip_tokenizer(out_dir,
                            config.text_config.max_position_embeddings)
    _save_image_processor(out_dir, model_cfg, config.vision_config.image_size)
    return report


__all__ = [
    'load_openclip_state', 'openclip_hf_config', 'openclip_state_to_hf',
    'openclip_to_hf_clip', 'save_openclip_tokenizer'
]
