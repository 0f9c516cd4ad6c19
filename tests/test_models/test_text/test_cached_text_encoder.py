"""CachedFrozenTextEncoder: TextEncoder's pooling, computed once per text."""
import pytest
import torch

import icar_mm  # noqa: F401
from icar_mm.models.text import CachedFrozenTextEncoder, TextEncoder
from icar_mm.registry import MODELS
from tiny_models import TINY_TEXT

pytestmark = pytest.mark.usefixtures('single_thread')


def _pair():
    """A cached encoder and a plain one with the same weights (eval)."""
    torch.manual_seed(0)
    cached = CachedFrozenTextEncoder(config=TINY_TEXT, tokenizer='byte',
                                     embed_dim=8)
    plain = TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=8)
    plain.load_state_dict(cached.state_dict())
    return cached, plain.eval()


def test_equals_the_eval_text_encoder_and_caches_each_text_once():
    cached, plain = _pair()
    texts = ['a red circle', 'dax, a red triangle', 'a red circle']
    cached.train()
    out = cached(texts)
    assert cached.cache_size == 2  # one entry per distinct text
    with torch.no_grad():
        ref = plain(texts)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # the body is frozen; the projection learns
    out.sum().backward()
    assert cached.proj.weight.grad is not None
    assert all(p.grad is None for p in cached.model.parameters())
    # cached values are reused, not recomputed, also from a padded batch
    # or token ids (what a class-text token cache hands over)
    tokens = cached.tokenize(['a red circle', 'dax, a red triangle'])
    with torch.no_grad():
        torch.testing.assert_close(cached(tokens), ref[:2], atol=1e-5,
                                   rtol=1e-5)
    cached(['a red circle'])
    assert cached.cache_size == 2
    assert cached.model.training  # the train mode is restored


def test_pool_is_the_text_encoders_pool_in_chunks():
    cached, plain = _pair()
    cached.chunk_size = 2
    texts = ['a', 'bb', 'a longer text', 'ccc', 'bb']
    tokens = cached.tokenize(texts)
    with torch.no_grad():
        torch.testing.assert_close(cached.pool(tokens), plain.pool(tokens),
                                   atol=1e-5, rtol=1e-5)
    assert cached.cache_size == 4


def test_registered_and_refuses_a_random_fallback():
    assert MODELS.get('CachedFrozenTextEncoder') is CachedFrozenTextEncoder
    with pytest.raises(ValueError, match='no silent random fallback'):
        CachedFrozenTextEncoder(pretrained='package:no_such_package',
                                fallback=dict(config=TINY_TEXT))
