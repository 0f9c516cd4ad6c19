"""TextCosineClassifier in one process: training path, subsampling, ensemble.

The class-sharded and cross-rank subsampling paths are tested in
``test_distributed.py``.
"""
import math

import pytest
import torch
import torch.nn.functional as F

import icar_mm  # noqa: F401  (stack fixes before open_clip)
from icar_mm.models.text.class_text_bank import ClassTextBank
from icar_mm.models.text.text_cosine_classifier import TextCosineClassifier
from icar_mm.models.text.text_encoder import TextEncoder

DIM = 16
from tiny_models import TINY_TEXT  # noqa: E402
CLASSES = ['cat', 'dog', 'red car', 'blue boat', 'tree', 'house', 'fish']
TEMPLATES = ['a photo of a {}.', 'a drawing of the {}.', '{}', 'my {}!']


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    """Tiny models on a busy 2-core machine: one intra-op thread is faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _encoder(seed=0):
    torch.manual_seed(seed)
    return TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=DIM)


def _bank(classes=CLASSES, templates=TEMPLATES):
    return ClassTextBank(
        classes=classes, templates=list(templates), use_descriptions=False)


def _feats(n, seed=0):
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


def _record(enc):
    seen = []
    handle = enc.register_forward_pre_hook(
        lambda m, args: seen.append(list(args[0])))
    return seen, handle


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
    clf = TextCosineClassifier(_bank(), tau=0.05, seed=7).train()
    feats = _feats(5) * 3
    labels = torch.tensor([0, 3, 3, 6, 1])
    logits, out_labels = clf(feats, enc, labels)
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
    a = TextCosineClassifier(_bank(), seed=1).train()
    for _ in range(4):
        a(feats, enc, labels)
    assert int(a.step) == 4
    assert len({tuple(s) for s in seen}) > 1  # templates change per step
    run_a = seen[:]
    # a resumed run (step restored from the state dict) repeats the draws
    b = TextCosineClassifier(_bank(), seed=1).train()
    b.load_state_dict({'log_scale': b.log_scale, 'step': torch.tensor(2)})
    seen.clear()
    b(feats, enc, labels)
    b(feats, enc, labels)
    assert seen == run_a[2:]
    assert 'step' in a.state_dict()
    # another seed gives other draws
    c = TextCosineClassifier(_bank(), seed=2).train()
    seen.clear()
    for _ in range(4):
        c(feats, enc, labels)
    assert seen != run_a


def test_classification_loss_reaches_text_encoder():
    enc = _encoder()
    clf = TextCosineClassifier(_bank()).train()
    feats = _feats(4).requires_grad_()
    logits, labels = clf(feats, enc, torch.tensor([0, 1, 2, 2]))
    F.cross_entropy(logits, labels).backward()
    assert feats.grad.abs().sum() > 0
    assert enc.proj.weight.grad.abs().sum() > 0
    layer = enc.model.encoder.layer[0]
    assert layer.attention.self.query.weight.grad.abs().sum() > 0
    assert layer.output.dense.weight.grad.abs().sum() > 0
    assert enc.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_learnable_tau():
    enc = _encoder()
    clf = TextCosineClassifier(_bank(), tau=0.1, learnable_tau=True).train()
    assert 'log_scale' in dict(clf.named_parameters())
    logits, labels = clf(_feats(3), enc, torch.tensor([0, 1, 2]))
    F.cross_entropy(logits, labels).backward()
    assert clf.log_scale.grad.abs() > 0
    assert clf.scale.item() == pytest.approx(10.)
    clamped = TextCosineClassifier(tau=0.001, learnable_tau=True,
                                   max_scale=100.)
    assert clamped.scale.item() == pytest.approx(100.)
    fixed = TextCosineClassifier(tau=0.05)
    assert 'log_scale' not in dict(fixed.named_parameters())
    assert fixed.scale.item() == pytest.approx(20.)


# ---------------------------------------------------------- subsampling
def test_class_subsampling_single_process():
    classes = [f'class number {i}' for i in range(12)]
    enc = _encoder()
    seen, _ = _record(enc)
    bank = _bank(classes, ['{}'])
    sub = TextCosineClassifier(bank, num_negatives=4, seed=3).train()
    full = TextCosineClassifier(bank).train()
    feats = _feats(5)
    labels = torch.tensor([7, 2, 7, 11, 2])
    with torch.no_grad():
        logits, new_labels = sub(feats, enc, labels)
        full_logits, _ = full(feats, enc, labels)
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
            sub(feats, enc, labels)
        draws.append({classes.index(t) for t in seen[0]} - {2, 7, 11})
    assert all(len(d) == 4 for d in draws)
    assert len({frozenset(d) for d in draws}) > 1


def test_class_subsampling_with_too_few_classes_encodes_all():
    enc = _encoder()
    seen, _ = _record(enc)
    clf = TextCosineClassifier(_bank(templates=['{}']), num_negatives=100)
    logits, new_labels = clf.train()(_feats(2), enc, torch.tensor([5, 1]))
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
    clf = TextCosineClassifier(bank, eval_chunk_size=5)
    weights = clf.ensemble_class_embeddings(enc)
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
    clf = TextCosineClassifier(bank)
    model = _OpenClipLike(enc)
    reference = build_zero_shot_classifier(
        model,
        model.tokenizer,
        classnames=bank.class_texts,
        templates=bank.templates,
        num_classes_per_batch=3)
    torch.testing.assert_close(
        clf.ensemble_class_embeddings(enc), reference.t(), atol=1e-5,
        rtol=1e-5)


def test_eval_forward_uses_ensemble_and_restores_mode():
    enc = _encoder().train()
    clf = TextCosineClassifier(_bank(), tau=0.05).eval()
    feats = _feats(3)
    logits, labels = clf(feats, enc)
    assert labels is None and enc.training
    expected = F.normalize(feats, dim=-1) @ _direct_ensemble(enc, _bank()).t()
    torch.testing.assert_close(logits, expected / 0.05, atol=1e-4, rtol=1e-5)
    # in training mode, an explicit vocabulary also gets the ensemble
    other = _bank(['zebra', 'lamp'])
    clf.train()
    logits, _ = clf(feats, enc, class_texts=other)
    assert logits.shape == (3, 2) and int(clf.step) == 0
    with pytest.raises(ValueError, match='No class texts'):
        TextCosineClassifier().ensemble_class_embeddings(enc)


def test_ensemble_cache_hit_and_invalidation():
    enc = _encoder()
    bank = _bank()
    clf = TextCosineClassifier(bank)
    first = clf.ensemble_class_embeddings(enc)
    assert clf.ensemble_class_embeddings(enc) is first
    enc.train(), enc.eval()  # mode changes keep the cache
    assert clf.ensemble_class_embeddings(enc) is first

    # a different class list
    other_bank = _bank(CLASSES[:3] + ['zebra'])
    other = clf.ensemble_class_embeddings(enc, other_bank)
    assert other is not first and other.shape == (4, DIM)
    torch.testing.assert_close(other[:3], first[:3], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(other[3], first[3])
    assert clf.ensemble_class_embeddings(enc, other_bank) is other
    same_templates_other_order = _bank(templates=TEMPLATES[::-1])
    assert clf.ensemble_class_embeddings(
        enc, same_templates_other_order) is not other
    first = clf.ensemble_class_embeddings(enc)

    # optimizer steps (plain, foreach and AdamW) on the text encoder
    feats = _feats(4)
    for make_optim in (
            lambda p: torch.optim.SGD(p, lr=0.5, foreach=False),
            lambda p: torch.optim.SGD(p, lr=0.5, foreach=True),
            lambda p: torch.optim.AdamW(p, lr=0.01),
    ):
        optim = make_optim(enc.parameters())
        clf.train()
        logits, labels = clf(feats, enc, torch.tensor([0, 1, 2, 3]))
        F.cross_entropy(logits, labels).backward()
        optim.step()
        optim.zero_grad()
        clf.eval()
        updated = clf.ensemble_class_embeddings(enc)
        assert updated is not first
        assert not torch.allclose(updated, first, atol=1e-4)
        torch.testing.assert_close(updated, _direct_ensemble(enc, bank),
                                   atol=1e-5, rtol=1e-5)
        first = updated

    # load_state_dict of other weights
    enc.load_state_dict(_encoder(seed=5).state_dict())
    loaded = clf.ensemble_class_embeddings(enc)
    assert loaded is not first and not torch.allclose(loaded, first,
                                                      atol=1e-4)
    torch.testing.assert_close(loaded, _direct_ensemble(enc, bank),
                               atol=1e-5, rtol=1e-5)
    # another encoder instance
    enc2 = _encoder(seed=6)
    torch.testing.assert_close(
        clf.ensemble_class_embeddings(enc2), _direct_ensemble(enc2, bank),
        atol=1e-5, rtol=1e-5)


def test_ensemble_cache_invalidated_by_load_state_dict_assign():
    enc = _encoder()
    bank = _bank()
    clf = TextCosineClassifier(bank)
    sd1 = {k: v.clone() for k, v in _encoder(1).state_dict().items()}
    sd2 = {k: v.clone() for k, v in _encoder(2).state_dict().items()}
    enc.load_state_dict(sd1, assign=True)
    clf.ensemble_class_embeddings(enc)
    enc.load_state_dict(sd2, assign=True)
    torch.testing.assert_close(
        clf.ensemble_class_embeddings(enc), _direct_ensemble(enc, bank),
        atol=1e-5, rtol=1e-5)
