"""Tiny random CLIP checkpoints saved as the frameworks save them.

* :func:`save_tiny_hf_clip`: a ``transformers.CLIPModel`` with a small
  byte-level BPE CLIP tokenizer (``save_pretrained``), as on the hub;
* :func:`save_tiny_openclip`: an OpenCLIP model of a small registered
  config and its state dict (``torch.save``), as OpenCLIP releases them.

Weights are perturbed away from their initial values (layer norms, biases,
``logit_scale`` included), so a piece left out or misplaced shows.
"""
import json
import os
import os.path as osp

import torch

#: a few merges, so that some words are single tokens
MERGES = [('a', 't</w>'), ('c', 'at</w>'), ('o', 'g</w>'), ('d', 'og</w>'),
          ('h', 'o'), ('p', 'ho'), ('t', 'o</w>')]
#: positions of the tiny text tower (= tokens per text)
CONTEXT = 32
PROJECTION_DIM = 24
IMAGE_SIZE = 32
TEXTS = ['a photo of a cat', 'dog', 'a', 'a much longer caption about a '
         'dog and a cat that sit on a red mat', 'photo', 'cat cat cat']


def bytes_to_unicode() -> dict:
    """GPT-2 / CLIP's byte -> printable character table of byte-level
    BPE (the base vocabulary of every CLIP tokenizer)."""
    bs = (list(range(ord('!'), ord('~') + 1)) +
          list(range(ord('\xa1'), ord('\xac') + 1)) +
          list(range(ord('\xae'), ord('\xff') + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _perturb(model: torch.nn.Module, seed: int, logit_scale: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
        model.logit_scale.fill_(logit_scale)


def save_tiny_hf_clip(out_dir: str, seed: int = 0,
                      eos_token_id: int = None) -> str:
    """A random ``CLIPModel`` + tokenizer in ``out_dir``.

    Args:
        out_dir (str): Where to save.
        seed (int): Weights seed.
        eos_token_id (int, optional): ``text_config.eos_token_id``; default
            the tokenizer's end-of-text id; ``2`` is the legacy value of
            older hub configs (transformers then takes the largest id).

    Returns:
        str: ``out_dir``.
    """
    import icar_mm  # noqa: F401  (stack fixes)
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast
    os.makedirs(out_dir, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab = chars + [c + '</w>' for c in chars]
    vocab += [a + b for a, b in MERGES] + ['<|startoftext|>',
                                           '<|endoftext|>']
    with open(osp.join(out_dir, 'vocab.json'), 'w') as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    with open(osp.join(out_dir, 'merges.txt'), 'w') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in MERGES))
    tokenizer = CLIPTokenizerFast(
        vocab_file=osp.join(out_dir, 'vocab.json'),
        merges_file=osp.join(out_dir, 'merges.txt'),
        model_max_length=CONTEXT, pad_token='<|endoftext|>')
    eos = tokenizer.eos_token_id
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=2,
            max_position_embeddings=CONTEXT,
            bos_token_id=tokenizer.bos_token_id, pad_token_id=eos,
            eos_token_id=eos if eos_token_id is None else eos_token_id),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=8),
        projection_dim=PROJECTION_DIM)
    torch.manual_seed(seed)
    model = CLIPModel(config)
    _perturb(model, seed, logit_scale=3.0)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def tiny_openclip_config(quick_gelu: bool = False) -> dict:
    """An OpenCLIP model config: a 2-layer ViT and text transformer with
    OpenCLIP's own tokenizer (vocabulary 49408, 77 tokens)."""
    return dict(
        embed_dim=PROJECTION_DIM,
        quick_gelu=quick_gelu,
        vision_cfg=dict(image_size=IMAGE_SIZE, layers=2, width=32,
                        head_width=16, patch_size=8),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32,
                      heads=2, layers=2))


def save_tiny_openclip(out_dir: str, quick_gelu: bool = False,
                       seed: int = 0):
    """Register a tiny OpenCLIP config, build it, save its state dict.

    Returns:
        tuple: ``(model name, checkpoint file, the OpenCLIP model)``.
    """
    import icar_mm  # noqa: F401  (stack fixes before open_clip)
    import open_clip
    os.makedirs(out_dir, exist_ok=True)
    name = 'icar-test-tiny-vit' + ('-quickgelu' if quick_gelu else '')
    config_file = osp.join(out_dir, name + '.json')
    with open(config_file, 'w') as f:
        json.dump(tiny_openclip_config(quick_gelu), f)
    open_clip.add_model_config(config_file)
    torch.manual_seed(seed)
    model = open_clip.create_model(name)
    _perturb(model, seed, logit_scale=2.5)
    checkpoint = osp.join(out_dir, name + '.pt')
    torch.save(model.state_dict(), checkpoint)
    return name, checkpoint, model.eval()


def clip_text_features(clip_dir: str, texts, max_length: int = CONTEXT):
    """``CLIPModel.get_text_features`` of ``texts``, normalised (the
    oracle of a CLIP text tower)."""
    import torch.nn.functional as F
    from transformers import AutoTokenizer, CLIPModel
    clip = CLIPModel.from_pretrained(clip_dir).eval()
    batch = AutoTokenizer.from_pretrained(clip_dir)(
        list(texts), padding=True, truncation=True, max_length=max_length,
        return_tensors='pt')
    with torch.no_grad():
        return F.normalize(clip.get_text_features(**batch), dim=-1)


def clip_text_encoder(clip_dir: str) -> dict:
    """The CLIP text tower config of a host head's text classifier."""
    return dict(type='TextEncoder', pretrained=clip_dir, max_length=CONTEXT)


def check_clip_text_classifier(classifier, clip_dir: str, classes) -> float:
    """The classifier's text tower is CLIP's: its class weights for
    ``classes`` (one template, ``'{}'``) equal CLIP's text features.
    Returns the largest absolute difference."""
    from icar_mm.apis import set_vocabulary
    set_vocabulary(classifier, list(classes), templates=['{}'])
    classifier.eval()
    weights = classifier.ensemble()
    diff = (weights - clip_text_features(clip_dir, classes)).abs().max()
    assert diff < 1e-5, diff
    return float(diff)
