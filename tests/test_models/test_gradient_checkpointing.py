"""Gradient checkpointing of both towers: same gradients, less memory."""
import torch
from mmpretrain.structures import DataSample

import icar_mm  # noqa: F401
from icar_mm.registry import MODELS
from tiny_models import TINY_TEXT

CLASSES = ['red circle', 'blue square', 'green triangle', 'yellow star']


def build(with_cp: bool, text=TINY_TEXT, base_channels=16):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='ICAR',
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=base_channels,
                base_channels=base_channels,
                with_cp=with_cp),
            feat_channels=8 * base_channels,
            embed_dim=16,
            text_encoder=dict(
                config=text, tokenizer='byte',
                gradient_checkpointing=with_cp),
            cls_head=dict(
                type='TextMetaClassifier',
                classifier=dict(
                    class_texts=dict(
                        classes=CLASSES, templates=['a photo of a {}.'],
                        use_descriptions=False))),
            itc_loss=dict(type='ContrastiveLoss')))


def batch(n: int, size: int):
    g = torch.Generator().manual_seed(1)
    cls = torch.randn(n, 3, size, size, generator=g)
    itc = torch.randn(n, 3, size, size, generator=g)
    labels = [DataSample().set_gt_label(i % len(CLASSES)) for i in range(n)]
    texts = []
    for i in range(n):
        sample = DataSample()
        sample.set_field(f'a picture of shape number {i}', 'text')
        texts.append(sample)
    return dict(cls=cls, itc=itc), dict(cls=labels, itc=texts)


def grads(model, inputs, samples):
    model.train()
    losses = model.loss(inputs, samples)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    return {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }


def test_checkpointing_both_towers_gives_identical_gradients():
    inputs, samples = batch(8, 32)
    plain, ckpt = build(False), build(True)
    ckpt.load_state_dict(plain.state_dict())
    g_plain = grads(plain, inputs, samples)
    g_ckpt = grads(ckpt, inputs, samples)
    assert g_plain.keys() == g_ckpt.keys()
    assert any(k.startswith('backbone.') for k in g_plain)
    assert any(k.startswith('text_encoder.model.') for k in g_plain)
    for name in g_plain:
        torch.testing.assert_close(
            g_ckpt[name], g_plain[name], rtol=1e-4, atol=1e-6, msg=name)


def saved_activation_mb(with_cp: bool) -> float:
    """Megabytes the forward pass keeps for the backward pass.

    Counted with saved-tensor hooks: each distinct storage saved for
    backward outside a checkpointed segment (a checkpointed segment keeps
    only its inputs and recomputes the rest). This is the memory
    checkpointing trades for compute, measured exactly rather than through
    the process's resident size (which the allocator blurs).
    """
    model = build(with_cp, base_channels=32)
    inputs, samples = batch(16, 96)
    model.train()
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        losses = model.loss(inputs, samples)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    return sum(n for ptr, n in storages.items()
               if ptr not in params) / 2**20


def test_checkpointing_lowers_saved_activations():
    plain, ckpt = saved_activation_mb(False), saved_activation_mb(True)
    # 65 -> 37 MB here: the stem, the stage inputs and the heads remain
    assert ckpt < 0.75 * plain, (plain, ckpt)
