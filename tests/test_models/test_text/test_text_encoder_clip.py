"""TextEncoder on CLIP's text tower, and the pooling options."""
import pytest
import torch

import icar_mm  # noqa: F401
from icar_mm.models.text import CachedFrozenTextEncoder, TextEncoder
from tiny_clip import (CONTEXT, PROJECTION_DIM, TEXTS, clip_text_features,
                       save_tiny_hf_clip)
from tiny_models import TINY_TEXT

pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module', params=[None, 2],
                ids=['eos_token_id', 'legacy_eos_token_id_2'])
def clip_dir(request, tmp_path_factory):
    """A tiny CLIPModel directory; with the legacy ``eos_token_id=2`` of
    older hub configs transformers pools at the largest token id."""
    return save_tiny_hf_clip(str(tmp_path_factory.mktemp('clip')),
                             eos_token_id=request.param)


def _clip(clip_dir):
    from transformers import AutoTokenizer, CLIPModel
    return (CLIPModel.from_pretrained(clip_dir).eval(),
            AutoTokenizer.from_pretrained(clip_dir))


def test_clip_text_tower_equals_get_text_features(clip_dir):
    enc = TextEncoder(pretrained=clip_dir, max_length=CONTEXT).eval()
    assert type(enc.model).__name__ == 'CLIPTextModel'
    assert enc.pooling == 'eos'
    assert enc.embed_dim == PROJECTION_DIM  # CLIP's projection_dim
    clip, tokenizer = _clip(clip_dir)
    # CLIP's text_projection is the projection, reused
    torch.testing.assert_close(enc.proj.weight, clip.text_projection.weight,
                               atol=0, rtol=0)
    assert enc.proj.bias is None
    # CLIP's tokenizer, from the same directory
    assert [list(i) for i in enc.tokenizer(TEXTS)] == tokenizer(
        TEXTS, truncation=True, max_length=CONTEXT)['input_ids']
    with torch.no_grad():
        ours = enc(TEXTS)
    expected = clip_text_features(clip_dir, TEXTS)
    diff = (ours - expected).abs().max().item()
    assert diff < 1e-5, diff
    # the texts differ in length: some rows of CLIP's batch were padded
    lengths = {len(i) for i in enc.tokenizer(TEXTS)}
    assert len(lengths) > 2 and CONTEXT in lengths  # one is truncated


def test_clip_pool_finds_eos_per_sequence_in_padded_batch(clip_dir):
    enc = TextEncoder(pretrained=clip_dir, max_length=CONTEXT).eval()
    ids = enc.tokenizer(TEXTS)
    with torch.no_grad():
        batch = enc.pool(enc.tokenize(TEXTS))
        alone = torch.cat([enc.pool(enc.tokenize([t])) for t in TEXTS])
        # the final-layer-norm state of each text's last (end-of-text) token
        hidden = [enc.model(input_ids=torch.from_numpy(i)[None])[0][0, -1]
                  for i in ids]
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch, torch.stack(hidden), atol=1e-5,
                               rtol=1e-5)


def test_clip_bucketed_path_equals_one_padded_batch(clip_dir):
    bucketed = TextEncoder(pretrained=clip_dir, max_length=CONTEXT,
                           max_tokens_per_batch=48)
    padded = TextEncoder(pretrained=clip_dir, max_length=CONTEXT,
                         bucket_by_length=False)
    target = torch.randn(len(TEXTS), PROJECTION_DIM,
                         generator=torch.Generator().manual_seed(0))
    out = {}
    for name, enc in (('bucketed', bucketed), ('padded', padded)):
        enc.train()
        emb = enc(TEXTS)
        (emb * target).sum().backward()
        out[name] = emb.detach()
    diff = (out['bucketed'] - out['padded']).abs().max().item()
    assert diff < 1e-5, diff
    assert bucketed.token_counts['slots'] < padded.token_counts['slots']
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
    # token ids and the token dict encode alike
    with torch.no_grad():
        torch.testing.assert_close(bucketed(bucketed.tokenizer(TEXTS)),
                                   bucketed(bucketed.tokenize(TEXTS)),
                                   atol=1e-5, rtol=1e-5)


def test_clip_projection_fixes_embed_dim(clip_dir):
    enc = TextEncoder(pretrained=clip_dir, max_length=CONTEXT,
                      embed_dim=PROJECTION_DIM)
    assert enc.embed_dim == PROJECTION_DIM
    with pytest.raises(ValueError, match='text_projection.*embed_dim=24'):
        TextEncoder(pretrained=clip_dir, max_length=CONTEXT, embed_dim=16)
    with pytest.raises(ValueError, match='positions'):
        TextEncoder(pretrained=clip_dir, max_length=CONTEXT + 1)
    with pytest.raises(ValueError, match='causal'):
        TextEncoder(pretrained=clip_dir, max_length=CONTEXT, pooling='cls')
    mean = TextEncoder(pretrained=clip_dir, max_length=CONTEXT,
                       pooling='mean')
    assert mean.pooling == 'mean'


def test_clip_text_tower_freezing_and_checkpointing(clip_dir):
    enc = TextEncoder(pretrained=clip_dir, max_length=CONTEXT,
                      frozen_layers=1)
    emb = enc.model.text_model.embeddings
    assert not any(p.requires_grad for p in emb.parameters())  # positions
    layers = enc.model.text_model.encoder.layers
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    ckpt = TextEncoder(pretrained=clip_dir, max_length=CONTEXT,
                       gradient_checkpointing=True).train()
    ckpt(TEXTS[:3]).sum().backward()
    assert ckpt.model.text_model.encoder.layers[0].mlp.fc1.weight.grad \
        is not None


def test_cached_frozen_encoder_on_clip_equals_text_encoder(clip_dir):
    cached = CachedFrozenTextEncoder(pretrained=clip_dir,
                                     max_length=CONTEXT).eval()
    with torch.no_grad():
        first = cached(TEXTS)
        again = cached(TEXTS[::-1])
    assert cached.cache_size == len(TEXTS)
    expected = clip_text_features(clip_dir, TEXTS)
    assert (first - expected).abs().max().item() < 1e-5
    torch.testing.assert_close(again, first.flip(0))


def test_clip_text_tower_from_config_and_other_dual_encoders(clip_dir):
    clip_text = dict(model_type='clip_text_model', vocab_size=300,
                     hidden_size=16, intermediate_size=32,
                     num_hidden_layers=1, num_attention_heads=2,
                     max_position_embeddings=32)
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(clip_dir)
    enc = TextEncoder(config=dict(clip_text, vocab_size=len(tokenizer),
                                  eos_token_id=tokenizer.eos_token_id),
                      tokenizer=clip_dir, max_length=32, embed_dim=8)
    assert enc.pooling == 'eos' and enc.embed_dim == 8
    assert enc(['abc', 'a longer text']).shape == (2, 8)
    # CLIP's rule would not find the byte tokenizer's end of text
    with pytest.raises(ValueError, match='end of text'):
        TextEncoder(config=clip_text, tokenizer='byte', max_length=32)
    enc = TextEncoder(config=clip_text, tokenizer='byte', max_length=32,
                      pooling='mean')
    assert enc(['abc']).shape == (1, 256)
    # a whole CLIP config: its text tower
    enc = TextEncoder(config=dict(model_type='clip', text_config=clip_text),
                      tokenizer='byte', max_length=32, pooling='mean')
    assert type(enc.model).__name__ == 'CLIPTextModel'
    with pytest.raises(ValueError, match="'siglip'.*text tower"):
        TextEncoder(config=dict(model_type='siglip'), tokenizer='byte')


# ------------------------------------------------------- pooling options
def _bert(pooling=None):
    torch.manual_seed(0)
    return TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=16,
                       pooling=pooling).eval()


def test_pooling_options_on_a_bert_tower():
    texts = ['ab', 'a longer one', 'cat']
    encoders = {p: _bert(p) for p in ('mean', 'cls', 'eos')}
    assert _bert().pooling == 'mean'  # AutoModel encoders: unchanged
    tokens = encoders['mean'].tokenize(texts)
    mask = tokens['attention_mask']
    assert len(set(mask.sum(1).tolist())) == 3  # right-padded batch
    with torch.no_grad():
        hidden = encoders['mean'].model(**tokens)[0]
        lengths = mask.sum(1)
        expected = dict(
            mean=torch.stack([hidden[i, :n].mean(0)
                              for i, n in enumerate(lengths)]),
            cls=hidden[:, 0],  # the first token after the encoder
            eos=torch.stack([hidden[i, n - 1]  # the last real token
                             for i, n in enumerate(lengths)]))
        for name, enc in encoders.items():
            torch.testing.assert_close(enc.pool(tokens), expected[name],
                                       atol=1e-6, rtol=1e-5, msg=name)
        # the default is the mean pooling of before
        torch.testing.assert_close(_bert()(texts), encoders['mean'](texts))
        # the bucketed path pools each text alike
        for enc in encoders.values():
            alone = torch.cat([enc([t]) for t in texts])
            torch.testing.assert_close(enc(texts), alone, atol=1e-5,
                                       rtol=1e-5)
    with pytest.raises(ValueError, match='pooling'):
        _bert('max')


def test_eos_and_cls_pooling_of_a_bert_tower_take_sep_and_cls():
    enc = _bert('eos')
    texts = ['hello', 'a cat']
    ids = enc.tokenizer(texts)
    sep, cls = enc.tokenizer.backend.sep_id, enc.tokenizer.backend.cls_id
    assert all(int(i[-1]) == sep and int(i[0]) == cls for i in ids)
    tokens = enc.tokenize(texts)
    with torch.no_grad():
        hidden = enc.model(**tokens)[0]
        is_sep = tokens['input_ids'] == sep
        torch.testing.assert_close(enc.pool(tokens), hidden[is_sep])
