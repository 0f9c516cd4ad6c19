"""Gradient checkpointing of both towers: same gradients, less memory."""
import json
import os
import os.path as osp
import subprocess
import sys

import torch
from mmpretrain.structures import DataSample

import icar_mm  # noqa: F401
from icar_mm.registry import MODELS
from tiny_models import TINY_TEXT

from repo_paths import REPO_ROOT as REPO  # noqa: E402
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


PEAK_SCRIPT = '''
import json, sys, torch
sys.path[:0] = [sys.argv[2], sys.argv[3]]
torch.set_num_threads(1)
import test_gradient_checkpointing as t
model = t.build(sys.argv[1] == "1", base_channels=32)
inputs, samples = t.batch(32, 160)

def status_kb(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key))

# reset the peak (VmHWM) to the current RSS, so imports do not count
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status_kb("VmRSS:")
t.grads(model, inputs, samples)
print(json.dumps((status_kb("VmHWM:") - before) / 1024.))
'''


def peak_mb(with_cp: bool) -> float:
    proc = subprocess.run(
        [sys.executable, '-c', PEAK_SCRIPT, '1' if with_cp else '0',
         osp.dirname(osp.abspath(__file__)), osp.join(REPO, 'tests')],
        env=dict(os.environ, PYTHONPATH=REPO),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_checkpointing_lowers_peak_memory():
    plain, ckpt = peak_mb(False), peak_mb(True)
    assert ckpt < 0.9 * plain, (plain, ckpt)
