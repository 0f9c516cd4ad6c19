"""TextClassifier: the downstream heads' text-generated cosine classifier."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import save_checkpoint

import icar_mm  # noqa: F401
from icar_mm.models.text import ClassTextBank, TextClassifier
from tiny_models import TINY_TEXT

CLASSES = ['cat', 'dog', 'red car']
TEMPLATES = ['a photo of a {}.', '{}']


def _classifier(text_init=None, **kwargs):
    torch.manual_seed(0)
    return TextClassifier(
        text_encoder=dict(config=TINY_TEXT, tokenizer='byte',
                          init_cfg=text_init),
        class_texts=dict(classes=CLASSES, templates=TEMPLATES,
                         use_descriptions=False),
        embed_dim=8, **kwargs)


def _grads(module):
    return [p.grad for p in module.text_encoder.parameters()
            if p.requires_grad]


def test_training_logits_train_the_text_encoder():
    clf = _classifier(tau=0.05).train()
    feats = torch.randn(4, 8, requires_grad=True)
    logits, labels = clf(feats, torch.tensor([0, 1, 2, 0]))
    assert logits.shape == (4, 3)
    assert logits.abs().max() <= 1 / 0.05 + 1e-4
    F.cross_entropy(logits, labels).backward()
    grads = _grads(clf)
    assert grads and all(g is not None for g in grads)
    assert feats.grad is not None


def test_frozen_text_encoder_gets_no_gradient_and_stays_in_eval():
    clf = _classifier(freeze_text_encoder=True).train()
    assert not clf.text_encoder.training
    feats = torch.randn(4, 8, requires_grad=True)
    logits, _ = clf(feats)
    logits.sum().backward()
    assert not any(p.requires_grad for p in clf.text_encoder.parameters())
    assert feats.grad is not None
    # frozen: training uses the template ensemble, equal to evaluation's
    eval_logits, _ = clf.eval()(feats)
    torch.testing.assert_close(logits, eval_logits)


def test_vocabulary_swap_changes_the_scored_classes():
    clf = _classifier().eval()
    feats = torch.randn(5, 8)
    base, _ = clf(feats)
    clf.set_vocabulary(ClassTextBank(classes=['boat', 'tree'],
                                     templates=TEMPLATES,
                                     use_descriptions=False))
    assert clf.num_classes == 2 and clf.class_names == ['boat', 'tree']
    novel, _ = clf(feats)
    assert novel.shape == (5, 2)
    # 'boat' alone equals a classifier trained on 'boat'
    direct = clf.classifier.ensemble_class_embeddings(
        clf.text_encoder, ClassTextBank(classes=['boat'], templates=TEMPLATES,
                                        use_descriptions=False))
    torch.testing.assert_close(
        novel[:, 0], clf.classifier.scale * F.normalize(feats, dim=-1) @
        direct[0])
    clf.set_vocabulary(None)
    torch.testing.assert_close(clf(feats)[0], base)


def test_pretrained_text_tower_loads_from_an_icar_checkpoint(tmp_path):
    source = _classifier()
    with torch.no_grad():
        for p in source.text_encoder.parameters():
            p.add_(1.)
    ckpt = tmp_path / 'icar.pth'
    save_checkpoint({'state_dict': {
        f'text_encoder.{k}': v
        for k, v in source.text_encoder.state_dict().items()}}, str(ckpt))
    target = _classifier(text_init=dict(
        type='Pretrained', checkpoint=str(ckpt), prefix='text_encoder.'))
    target.init_weights()
    for (k, a), b in zip(source.text_encoder.state_dict().items(),
                         target.text_encoder.state_dict().values()):
        assert torch.equal(a, b), k


def test_missing_class_texts_is_a_clear_error():
    with pytest.raises(ValueError, match='class_texts'):
        TextClassifier(text_encoder=dict(config=TINY_TEXT, tokenizer='byte'),
                       class_texts=None)
