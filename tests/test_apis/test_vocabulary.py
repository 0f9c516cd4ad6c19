"""One call for the classes of any model, one for zero-shot weights."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import icar_mm  # noqa: F401
from icar_mm.apis import (build_zero_shot_classifier, set_vocabulary,
                          text_classifiers)
from icar_mm.class_texts import ClassTextBank
from icar_mm.models.text import TextClassifier, TextEncoder
from tiny_models import TINY_TEXT, text_classifier

pytestmark = pytest.mark.usefixtures('single_thread')


def _encoder():
    torch.manual_seed(0)
    return TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=8)


class _TwoHeads(nn.Module):
    """A model with two heads sharing one encoder (as a host model may)."""

    def __init__(self):
        super().__init__()
        enc = _encoder()
        self.text = enc
        bank = ClassTextBank(classes=['cat', 'dog'], templates=['{}'],
                             use_descriptions=False)
        self.a = text_classifier(enc, bank)
        self.b = nn.Sequential(text_classifier(enc, bank))


def test_set_vocabulary_reaches_every_classifier_of_a_model():
    model = _TwoHeads().eval()
    assert text_classifiers(model) == [model.a, model.b[0]]
    names = set_vocabulary(model, ['zebra', 'lamp', 'kite'],
                           templates=['a photo of a {}.'])
    assert names == ['zebra', 'lamp', 'kite']
    assert all(c.class_names == names for c in text_classifiers(model))
    assert model.a.vocabulary is model.b[0].vocabulary  # built once
    # described classes use their descriptions unless told otherwise
    set_vocabulary(model, [dict(name='dax', description='a red triangle')],
                   templates=['{}'])
    assert model.a.vocabulary.class_texts == ['dax, a red triangle']
    set_vocabulary(model, None)
    assert model.a.class_names == ['cat', 'dog']
    with pytest.raises(ValueError, match='bank \\(config\\) has its own'):
        set_vocabulary(model, dict(classes=['x']), templates=['{}'])
    with pytest.raises(ValueError, match='no text classifier'):
        set_vocabulary(nn.Linear(2, 2), ['x'])


def test_zero_shot_weights_equal_the_direct_ensemble():
    """``(D, C)``: the normalised mean of the normalised template
    embeddings of each class, as OpenCLIP's function returns."""
    enc = _encoder().eval()
    model = nn.Module()
    model.clf = text_classifier(enc)
    templates = ['a photo of a {}.', 'a drawing of a {}.', '{}']
    weights = build_zero_shot_classifier(model, ['cat', 'red car'],
                                         templates=templates)
    assert weights.shape == (8, 2)
    with torch.no_grad():
        for c, name in enumerate(['cat', 'red car']):
            e = enc([t.format(name) for t in templates])
            expected = F.normalize(F.normalize(e, dim=-1).mean(0), dim=0)
            torch.testing.assert_close(weights[:, c], expected, atol=1e-5,
                                       rtol=1e-5)
    assert isinstance(model.clf, TextClassifier)
