"""TextClassifier in one process: training path, subsampling, ensemble,
the vocabulary rule, owned and shared text encoders.

The class-sharded and cross-rank subsampling paths are tested in
``test_distributed.py``.
"""
import pytest
import torch
import torch.nn.functional as F

from mmengine.runner import save_checkpoint

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from icar_mm.class_texts import ClassTextBank
from icar_mm.models.text import TextClassifier, TextEncoder
from tiny_models import TINY_TEXT, record_encoded_texts

DIM = 16
CLASSES = ['cat', 'dog', 'red car', 'blue boat', 'tree', 'house', 'fish']
TEMPLATES = ['a photo of a {}.', 'a drawing of the {}.', '{}', 'my {}!']


pytestmark = pytest.mark.usefixtures('single_thread')


def _encoder(seed=0):
    torch.manual_seed(seed)
    return TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=DIM)


def _bank(classes=CLASSES, templates=TEMPLATES):
    return ClassTextBank(
        classes=classes, templates=list(templates), use_descriptions=False)


def _clf(enc, *args, **kwargs):
    """A classifier sharing ``enc`` (as the pretraining model does)."""
    clf = TextClassifier(*args, **kwargs)
    clf.share_text_encoder(enc)
    return clf


def _feats(n, seed=0):
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


def _record(enc):
    return record_encoded_texts(enc), None


def _direct_ensemble(enc, bank):
    """Encode every template of every class, normalise, mean, normalise."""
    enc.eval()
    rows = []
    with torch.no_grad():
        for text in bank.class_texts:
            e = torch.cat([
                enc([template.format(text)]) for template in bank.templates
            ])
            rows.append(F.normalize(F.normalize(e, dim=-1).mean(0), dim=-1))
    return torch.stack(rows)


# ------------------------------------------------------------ training path
def test_training_logits_are_scaled_cosines_of_sampled_texts():
    enc = _encoder()
    seen, _ = _record(enc)
    clf = _clf(enc, _bank(), tau=0.05, seed=7).train()
    feats = _feats(5) * 3
    labels = torch.tensor([0, 3, 3, 6, 1])
    logits, out_labels = clf(feats, labels)
    assert torch.equal(out_labels, labels)
    assert len(seen) == 1 and len(seen[0]) == len(CLASSES)
    texts = seen[0]
    for text, name in zip(texts, CLASSES):
        assert text in [t.format(name) for t in TEMPLATES]
    with torch.no_grad():
        weights = enc(texts)
    expected = F.normalize(feats, dim=-1) @ weights.t() / 0.05
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert int(clf.step) == 1


def test_template_sampling_is_a_function_of_seed_and_step():
    enc = _encoder()
    seen, _ = _record(enc)
    feats, labels = _feats(2), torch.tensor([0, 1])
    a = _clf(enc, _bank(), seed=1).train()
    for _ in range(4):
        a(feats, labels)
    assert int(a.step) == 4
    assert len({tuple(s) for s in seen}) > 1  # templates change per step
    run_a = seen[:]
    # a resumed run (step restored from the state dict) repeats the draws
    b = _clf(enc, _bank(), seed=1).train()
    b.load_state_dict({'log_scale': b.log_scale, 'step': torch.tensor(2)})
    seen.clear()
    b(feats, labels)
    b(feats, labels)
    assert seen == run_a[2:]
    assert 'step' in a.state_dict()
    # another seed gives other draws
    c = _clf(enc, _bank(), seed=2).train()
    seen.clear()
    for _ in range(4):
        c(feats, labels)
    assert seen != run_a


def test_classification_loss_reaches_text_encoder():
    enc = _encoder()
    clf = _clf(enc, _bank()).train()
    feats = _feats(4).requires_grad_()
    logits, labels = clf(feats, torch.tensor([0, 1, 2, 2]))
    F.cross_entropy(logits, labels).backward()
    assert feats.grad.abs().sum() > 0
    assert enc.proj.weight.grad.abs().sum() > 0
    layer = enc.model.encoder.layer[0]
    assert layer.attention.self.query.weight.grad.abs().sum() > 0
    assert layer.output.dense.weight.grad.abs().sum() > 0
    assert enc.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_learnable_tau():
    enc = _encoder()
    clf = _clf(enc, _bank(), tau=0.1, learnable_tau=True).train()
    assert 'log_scale' in dict(clf.named_parameters())
    logits, labels = clf(_feats(3), torch.tensor([0, 1, 2]))
    F.cross_entropy(logits, labels).backward()
    assert clf.log_scale.grad.abs() > 0
    assert clf.scale.item() == pytest.approx(10.)
    clamped = _clf(enc, tau=0.001, learnable_tau=True, max_scale=100.)
    assert clamped.scale.item() == pytest.approx(100.)
    fixed = _clf(enc, tau=0.05)
    assert 'log_scale' not in dict(fixed.named_parameters())
    assert fixed.scale.item() == pytest.approx(20.)


# ---------------------------------------------------------- subsampling
def test_class_subsampling_single_process():
    classes = [f'class number {i}' for i in range(12)]
    enc = _encoder()
    seen, _ = _record(enc)
    bank = _bank(classes, ['{}'])
    sub = _clf(enc, bank, num_negatives=4, seed=3).train()
    full = _clf(enc, bank).train()
    feats = _feats(5)
    labels = torch.tensor([7, 2, 7, 11, 2])
    with torch.no_grad():
        logits, new_labels = sub(feats, labels)
        full_logits, _ = full(feats, labels)
    selected = [classes.index(t) for t in seen[0]]
    assert len(selected) == len(set(selected)) == 3 + 4
    assert {2, 7, 11} <= set(selected)
    assert logits.shape == (5, 7)
    assert torch.equal(torch.tensor(selected)[new_labels], labels)
    torch.testing.assert_close(logits, full_logits[:, selected], atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(
        logits.gather(1, new_labels[:, None]),
        full_logits.gather(1, labels[:, None]), atol=1e-5, rtol=1e-5)
    # negatives are redrawn at the next step
    negatives = set(selected) - {2, 7, 11}
    draws = [negatives]
    for _ in range(5):
        seen.clear()
        with torch.no_grad():
            sub(feats, labels)
        draws.append({classes.index(t) for t in seen[0]} - {2, 7, 11})
    assert all(len(d) == 4 for d in draws)
    assert len({frozenset(d) for d in draws}) > 1


def test_class_subsampling_with_too_few_classes_encodes_all():
    enc = _encoder()
    seen, _ = _record(enc)
    clf = _clf(enc, _bank(templates=['{}']), num_negatives=100)
    logits, new_labels = clf.train()(_feats(2), torch.tensor([5, 1]))
    assert sorted(seen[0]) == sorted(CLASSES)
    assert logits.shape == (2, len(CLASSES))
    assert [seen[0][i] for i in new_labels] == ['house', 'dog']


# ------------------------------------------------------- test-time ensemble
class _OpenClipLike:
    """A TextEncoder behind OpenCLIP's model/tokenizer interface."""

    class Tokens(dict):

        def to(self, device):
            return type(self)({k: v.to(device) for k, v in self.items()})

    def __init__(self, enc):
        self.enc = enc

    def encode_text(self, tokens, normalize=False):
        return self.enc(tokens, normalize=normalize)

    def tokenizer(self, texts):
        return self.Tokens(self.enc.tokenize(texts))


def test_ensemble_equals_direct_computation():
    enc = _encoder()
    bank = _bank()
    clf = _clf(enc, bank, eval_chunk_size=5)
    weights = clf.ensemble()
    assert weights.shape == (len(CLASSES), DIM)
    torch.testing.assert_close(weights, _direct_ensemble(enc, bank),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.norm(dim=-1), torch.ones(7))
    # averaging is over normalised template embeddings, not a single one
    single = _direct_ensemble(enc, _bank(templates=TEMPLATES[:1]))
    assert not torch.allclose(weights, single, atol=1e-3)


def test_ensemble_equals_openclip_zero_shot_classifier():
    from open_clip.zero_shot_classifier import build_zero_shot_classifier
    enc = _encoder().eval()
    bank = _bank()
    clf = _clf(enc, bank)
    model = _OpenClipLike(enc)
    reference = build_zero_shot_classifier(
        model,
        model.tokenizer,
        classnames=bank.class_texts,
        templates=bank.templates,
        num_classes_per_batch=3)
    torch.testing.assert_close(
        clf.ensemble(), reference.t(), atol=1e-5,
        rtol=1e-5)


def test_eval_forward_uses_ensemble_and_restores_mode():
    enc = _encoder().train()
    clf = _clf(enc, _bank(), tau=0.05).eval()
    feats = _feats(3)
    logits, labels = clf(feats)
    assert labels is None and enc.training
    expected = F.normalize(feats, dim=-1) @ _direct_ensemble(enc, _bank()).t()
    torch.testing.assert_close(logits, expected / 0.05, atol=1e-4, rtol=1e-5)
    # in training mode, an explicit vocabulary also gets the ensemble
    other = _bank(['zebra', 'lamp'])
    clf.train()
    logits, _ = clf(feats, class_texts=other)
    assert logits.shape == (3, 2) and int(clf.step) == 0
    with pytest.raises(ValueError, match='No classes to score'):
        _clf(enc).ensemble()


def test_ensemble_cache_hit_and_invalidation():
    enc = _encoder()
    bank = _bank()
    clf = _clf(enc, bank)
    first = clf.ensemble()
    assert clf.ensemble() is first
    enc.train(), enc.eval()  # mode changes keep the cache
    assert clf.ensemble() is first

    # a different class list
    other_bank = _bank(CLASSES[:3] + ['zebra'])
    other = clf.ensemble(other_bank)
    assert other is not first and other.shape == (4, DIM)
    torch.testing.assert_close(other[:3], first[:3], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(other[3], first[3])
    assert clf.ensemble(other_bank) is other
    same_templates_other_order = _bank(templates=TEMPLATES[::-1])
    assert clf.ensemble(
        same_templates_other_order) is not other
    first = clf.ensemble()

    # optimizer steps (plain, foreach and AdamW) on the text encoder
    feats = _feats(4)
    for make_optim in (
            lambda p: torch.optim.SGD(p, lr=0.5, foreach=False),
            lambda p: torch.optim.SGD(p, lr=0.5, foreach=True),
            lambda p: torch.optim.AdamW(p, lr=0.01),
    ):
        optim = make_optim(enc.parameters())
        clf.train()
        logits, labels = clf(feats, torch.tensor([0, 1, 2, 3]))
        F.cross_entropy(logits, labels).backward()
        optim.step()
        optim.zero_grad()
        clf.eval()
        updated = clf.ensemble()
        assert updated is not first
        assert not torch.allclose(updated, first, atol=1e-4)
        torch.testing.assert_close(updated, _direct_ensemble(enc, bank),
                                   atol=1e-5, rtol=1e-5)
        first = updated

    # load_state_dict of other weights
    enc.load_state_dict(_encoder(seed=5).state_dict())
    loaded = clf.ensemble()
    assert loaded is not first and not torch.allclose(loaded, first,
                                                      atol=1e-4)
    torch.testing.assert_close(loaded, _direct_ensemble(enc, bank),
                               atol=1e-5, rtol=1e-5)
    # another encoder instance
    enc2 = _encoder(seed=6)
    clf.share_text_encoder(enc2)
    torch.testing.assert_close(
        clf.ensemble(), _direct_ensemble(enc2, bank), atol=1e-5, rtol=1e-5)


def test_ensembles_of_several_vocabularies_are_all_cached():
    """Scoring two vocabularies in turn (a zero-shot loop) encodes each
    once, not once per call."""
    enc = _encoder()
    seen, _ = _record(enc)
    clf = _clf(enc, _bank())
    banks = [_bank(['zebra', 'lamp']), _bank(['tree']), _bank()]
    first = [clf.ensemble(b) for b in banks]
    calls = len(seen)
    for _ in range(3):
        assert all(clf.ensemble(b) is w for b, w in zip(banks, first))
    assert len(seen) == calls


def test_ensemble_cache_invalidated_by_load_state_dict_assign():
    enc = _encoder()
    bank = _bank()
    clf = _clf(enc, bank)
    sd1 = {k: v.clone() for k, v in _encoder(1).state_dict().items()}
    sd2 = {k: v.clone() for k, v in _encoder(2).state_dict().items()}
    enc.load_state_dict(sd1, assign=True)
    clf.ensemble()
    enc.load_state_dict(sd2, assign=True)
    torch.testing.assert_close(
        clf.ensemble(), _direct_ensemble(enc, bank),
        atol=1e-5, rtol=1e-5)


# --------------------------------------------------- the vocabulary rule
def test_train_mode_scores_training_classes_eval_mode_the_vocabulary():
    enc = _encoder()
    clf = _clf(enc, _bank(), vocabulary=_bank(['zebra', 'lamp']))
    feats, labels = _feats(3), torch.tensor([0, 1, 2])
    clf.train()
    assert clf.num_classes == len(CLASSES) and clf.class_names == CLASSES
    assert clf(feats, labels)[0].shape == (3, len(CLASSES))
    clf.eval()
    assert clf.num_classes == 2 and clf.class_names == ['zebra', 'lamp']
    logits, _ = clf(feats)
    expected = F.normalize(feats, dim=-1) @ _direct_ensemble(
        enc, _bank(['zebra', 'lamp'])).t() / 0.05
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-5)
    clf.set_vocabulary(None)
    assert clf.num_classes == len(CLASSES)
    assert clf.inference_classes is clf.class_texts
    # a zero-shot-only classifier has no classes until given a vocabulary
    zero_shot = _clf(enc).eval()
    assert zero_shot.num_classes == 0 and zero_shot.class_names == []
    with pytest.raises(ValueError, match='no training classes'):
        zero_shot.train()(feats, labels)


def test_subsampling_refused_when_the_owner_scores_every_class():
    with pytest.raises(ValueError, match='allow_subsampling=False'):
        TextClassifier(_bank(), num_negatives=3, allow_subsampling=False)


def test_same_class_embeddings_encode_once_per_step():
    enc = _encoder()
    seen, _ = _record(enc)
    clf = _clf(enc, _bank()).train()
    feats = _feats(2).requires_grad_()
    with clf.same_class_embeddings():
        a, _ = clf(feats)
        b, _ = clf(feats * 2)
    assert len(seen) == 1 and int(clf.step) == 1
    (a.sum() + b.sum()).backward()
    assert enc.proj.weight.grad.abs().sum() > 0
    clf(feats)
    assert len(seen) == 2  # outside the block: a new encoding


def test_loads_checkpoints_of_the_former_layout():
    """icar_mm 0.1 kept ``log_scale`` and ``step`` under ``classifier.``."""
    enc = _encoder()
    clf = _clf(enc, _bank(), learnable_tau=True)
    old = {'classifier.log_scale': torch.tensor(2.5),
           'classifier.step': torch.tensor(7)}
    clf.load_state_dict(old)
    assert clf.log_scale.item() == 2.5 and int(clf.step) == 7


# -------------------------------------------- an owned text encoder
def _owned(text_init=None, **kwargs):
    torch.manual_seed(0)
    return TextClassifier(
        text_encoder=dict(config=TINY_TEXT, tokenizer='byte',
                          init_cfg=text_init),
        class_texts=dict(classes=CLASSES[:3], templates=TEMPLATES[:2],
                         use_descriptions=False),
        embed_dim=8, **kwargs)


def test_owned_encoder_is_built_saved_and_trained():
    clf = _owned(tau=0.05).train()
    assert 'text_encoder' in clf._modules and clf.embed_dim == 8
    assert any(k.startswith('text_encoder.') for k in clf.state_dict())
    feats = torch.randn(4, 8, requires_grad=True)
    logits, labels = clf(feats, torch.tensor([0, 1, 2, 0]))
    assert logits.shape == (4, 3)
    assert logits.abs().max() <= 1 / 0.05 + 1e-4
    F.cross_entropy(logits, labels).backward()
    grads = [p.grad for p in clf.text_encoder.parameters()
             if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert feats.grad is not None
    with pytest.raises(ValueError, match='owns its text encoder'):
        clf.share_text_encoder(_encoder())


def test_shared_encoder_is_not_saved_in_the_classifier():
    enc = _encoder()
    clf = _clf(enc, _bank())
    assert clf.text_encoder is enc
    assert set(clf.state_dict()) == {'log_scale', 'step'}
    assert not any(m is enc for m in clf.modules())


def test_embed_dim_conflict_is_an_error():
    with pytest.raises(ValueError, match='text_encoder.embed_dim=16'):
        TextClassifier(text_encoder=dict(config=TINY_TEXT, tokenizer='byte',
                                         embed_dim=16),
                       class_texts=_bank(), embed_dim=8)


def test_frozen_text_encoder_gets_no_gradient_and_stays_in_eval():
    clf = _owned(freeze_text_encoder=True).train()
    assert not clf.text_encoder.training
    feats = torch.randn(4, 8, requires_grad=True)
    logits, _ = clf(feats)
    logits.sum().backward()
    assert not any(p.requires_grad for p in clf.text_encoder.parameters())
    assert feats.grad is not None
    # frozen: training uses the template ensemble, equal to evaluation's
    eval_logits, _ = clf.eval()(feats)
    torch.testing.assert_close(logits, eval_logits)
    with pytest.raises(ValueError, match='needs an owned text encoder'):
        TextClassifier(_bank(), freeze_text_encoder=True)


def test_vocabulary_swap_changes_the_scored_classes():
    clf = _owned().eval()
    feats = torch.randn(5, 8)
    base, _ = clf(feats)
    clf.set_vocabulary(ClassTextBank(classes=['boat', 'tree'],
                                     templates=TEMPLATES[:2],
                                     use_descriptions=False))
    assert clf.num_classes == 2 and clf.class_names == ['boat', 'tree']
    novel, _ = clf(feats)
    assert novel.shape == (5, 2)
    # 'boat' alone equals a classifier trained on 'boat'
    direct = _direct_ensemble(
        clf.text_encoder, ClassTextBank(classes=['boat'],
                                        templates=TEMPLATES[:2],
                                        use_descriptions=False))
    torch.testing.assert_close(
        novel[:, 0], clf.scale * F.normalize(feats, dim=-1) @ direct[0],
        atol=1e-5, rtol=1e-5)
    clf.set_vocabulary(None)
    torch.testing.assert_close(clf(feats)[0], base)


def test_pretrained_text_tower_loads_from_an_icar_checkpoint(tmp_path):
    source = _owned()
    with torch.no_grad():
        for p in source.text_encoder.parameters():
            p.add_(1.)
    ckpt = tmp_path / 'icar.pth'
    save_checkpoint({'state_dict': {
        f'text_encoder.{k}': v
        for k, v in source.text_encoder.state_dict().items()}}, str(ckpt))
    target = _owned(text_init=dict(
        type='Pretrained', checkpoint=str(ckpt), prefix='text_encoder.'))
    target.init_weights()
    for (k, a), b in zip(source.text_encoder.state_dict().items(),
                         target.text_encoder.state_dict().values()):
        assert torch.equal(a, b), k


# ------------------------------------- class texts tokenized once
def test_no_tokenizer_call_after_the_first_step():
    enc = _encoder()
    clf = _clf(enc, _bank(), seed=1).train()
    feats, labels = _feats(3), torch.tensor([0, 1, 2])
    clf(feats, labels)
    calls = enc.tokenizer.calls
    assert calls == 1  # every class, every template, in one call
    for _ in range(5):
        clf(feats, labels)
    clf.eval()(feats)  # the test-time ensemble reuses the ids
    assert enc.tokenizer.calls == calls


def test_token_cache_follows_vocabulary_templates_and_tokenizer():
    enc = _encoder()
    clf = _clf(enc, _bank()).eval()
    clf(_feats(2))
    first = clf.class_text_tokens(_bank())
    assert clf.class_text_tokens(_bank()) is first  # same texts: reused
    for other in (_bank(CLASSES[::-1]), _bank(templates=TEMPLATES[:2])):
        cache = clf.class_text_tokens(other)
        assert cache is not first and cache.num_cached == 0
    # another tokenizer (another max_length): other ids, no reuse
    enc2 = TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=DIM,
                       max_length=6)
    clf.share_text_encoder(enc2)
    short = clf.class_text_tokens(_bank())
    assert short is not first
    assert max(len(i) for i in short.ensemble(range(len(CLASSES)))) == 6
    torch.testing.assert_close(clf.ensemble(), _direct_ensemble(enc2,
                                                                 _bank()),
                               atol=1e-5, rtol=1e-5)


def test_cached_bucketed_path_equals_the_former_path():
    """Logits and gradients of a training step, and the ensemble, equal
    tokenizing every step into one padded batch (icar_mm 0.1)."""
    new_enc = _encoder()
    old_enc = _encoder()
    old_enc.bucket_by_length = False
    new_enc.max_tokens_per_batch = 40  # several buckets
    new = _clf(new_enc, _bank(), seed=4).train()
    old = _clf(old_enc, _bank(), seed=4, cache_tokens=False).train()
    feats, labels = _feats(5), torch.tensor([0, 3, 6, 1, 1])
    for step in range(2):
        out = []
        for clf, enc in ((new, new_enc), (old, old_enc)):
            x = feats.clone().requires_grad_()
            logits, target = clf(x, labels)
            F.cross_entropy(logits, target).backward()
            out.append((logits.detach(), x.grad, enc.proj.weight.grad))
        for a, b in zip(*out):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        new_enc.zero_grad(), old_enc.zero_grad()
    torch.testing.assert_close(new.eval().ensemble(), old.eval().ensemble(),
                               atol=1e-5, rtol=1e-5)
    assert old_enc.tokenizer.calls > new_enc.tokenizer.calls == 1
