"""The ICAR model: both losses train the shared text encoder (A2)."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

import icar_mm  # noqa: F401
from icar_mm.models import ICAR
from icar_mm.models.heads import TextMetaClassifier
from icar_mm.models.text import TextClassifier
from icar_mm.registry import MODELS
from tiny_models import TINY_TEXT

EMBED = 16
BACKBONE = dict(
    type='ResNet', depth=18, stem_channels=8, base_channels=8)  # 64 out
CLASSES = ['red circle', 'blue square', 'green triangle']
TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.']
CAPTIONS = ['a big red circle', 'a small blue square', 'green triangle',
            'two circles']


pytestmark = pytest.mark.usefixtures('single_thread')


def _bank(classes=CLASSES):
    return dict(
        classes=classes, templates=TEMPLATES, use_descriptions=False)


def _icar(**kwargs):
    torch.manual_seed(0)
    cfg = dict(
        type='ICAR',
        backbone=BACKBONE,
        feat_channels=64,
        embed_dim=EMBED,
        text_encoder=dict(config=TINY_TEXT, tokenizer='byte'),
        cls_head=dict(
            type='TextMetaClassifier', classifier=dict(class_texts=_bank())),
        itc_loss=dict(type='ContrastiveLoss'))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _images(n, seed=0):
    return torch.randn(
        n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def _cls_samples(labels):
    return [DataSample().set_gt_label(label) for label in labels]


def _itc_samples(captions=CAPTIONS):
    samples = []
    for caption in captions:
        sample = DataSample()
        sample.text = caption
        samples.append(sample)
    return samples


def _text_params(model):
    layer = model.text_encoder.model.encoder.layer[0]
    return dict(
        query=layer.attention.self.query.weight,
        ffn=layer.output.dense.weight,
        word_embeddings=model.text_encoder.model.embeddings.word_embeddings.
        weight,
        text_proj=model.text_encoder.proj.weight)


def _nonzero_grad(p):
    return p.grad is not None and p.grad.abs().sum() > 0


def test_each_loss_trains_the_shared_text_encoder():
    model = _icar().train()
    assert isinstance(model.cls_head, TextMetaClassifier)
    # one text encoder, saved once, shared by the head's classifier
    assert model.text_classifier is model.cls_head.classifier
    assert model.text_classifier.text_encoder is model.text_encoder
    assert not any(k.startswith('cls_head.classifier.text_encoder')
                   for k in model.state_dict())
    text = _text_params(model)

    losses = model.loss(
        dict(cls=_images(4)), dict(cls=_cls_samples([0, 1, 2, 1])))
    assert set(losses) == {'loss_cls'}
    losses['loss_cls'].backward()
    for name, p in text.items():
        assert _nonzero_grad(p), f'L_cls sent no gradient to {name}'
    assert _nonzero_grad(model.visual_proj.weight)
    assert _nonzero_grad(model.backbone.conv1.weight)
    assert model.itc_loss.log_scale.grad is None

    model.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in text.values())
    losses = model.loss(dict(itc=_images(4, 1)), dict(itc=_itc_samples()))
    assert set(losses) == {'loss_itc', 'itc_scale'}
    losses['loss_itc'].backward()
    for name, p in text.items():
        assert _nonzero_grad(p), f'L_itc sent no gradient to {name}'
    assert _nonzero_grad(model.visual_proj.weight)
    assert _nonzero_grad(model.backbone.conv1.weight)
    assert _nonzero_grad(model.itc_loss.log_scale)


def test_two_streams_share_one_backbone_pass():
    model = _icar().train()
    model.backbone.eval()  # BN statistics would mix the two streams
    inputs = dict(cls=_images(3), itc=_images(4, 1))
    samples = dict(cls=_cls_samples([2, 0, 1]), itc=_itc_samples())
    step = int(model.cls_head.classifier.step)
    both = model.loss(inputs, samples)
    # the same template draw for the separate cls pass
    model.cls_head.classifier.step.fill_(step)
    cls_only = model.loss(dict(cls=inputs['cls']), dict(cls=samples['cls']))
    itc_only = model.loss(dict(itc=inputs['itc']), dict(itc=samples['itc']))
    assert set(both) == {'loss_cls', 'loss_itc', 'itc_scale'}
    torch.testing.assert_close(both['loss_cls'], cls_only['loss_cls'],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both['loss_itc'], itc_only['loss_itc'],
                               atol=1e-5, rtol=1e-5)


def test_train_step_updates_text_encoder_through_preprocessor():
    model = _icar()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    uint8 = (torch.rand(4, 3, 32, 32) * 255).to(torch.uint8)
    data = dict(
        cls=dict(inputs=list(uint8[:3]), data_samples=_cls_samples([0, 1,
                                                                    2])),
        itc=dict(inputs=list(uint8), data_samples=_itc_samples()))
    before = {k: v.detach().clone() for k, v in _text_params(model).items()}
    log = model.train_step(data, optim)
    assert {'loss', 'loss_cls', 'loss_itc'} <= set(log)
    for name, p in _text_params(model).items():
        assert not torch.equal(p.detach(), before[name]), name
    assert int(model.cls_head.classifier.step) == 1


def test_predict_training_classes_and_vocabulary():
    model = _icar().eval()
    images = _images(2)
    with torch.no_grad():
        out = model.predict(images)
        assert out[0].pred_score.shape == (len(CLASSES), )
        torch.testing.assert_close(out[0].pred_score.sum(), torch.tensor(1.))
        weights = model.cls_head.classifier.ensemble()
        logits = model.embed_images(images) @ weights.t() / 0.05
        torch.testing.assert_close(
            torch.stack([s.pred_score for s in out]), logits.softmax(-1),
            atol=1e-5, rtol=1e-4)
        # swap the vocabulary without retraining, then swap back
        model.text_classifier.set_vocabulary(
            _bank(['zebra', 'lamp', 'kite', 'boat']))
        out = model(images, mode='predict')
        assert out[0].pred_score.shape == (4, )
        model.text_classifier.set_vocabulary(None)
        assert model.predict(images)[0].pred_score.shape == (3, )
        assert model(images).shape == (2, EMBED)  # 'tensor' mode


@pytest.mark.parametrize('variant', ['linear', 'cosine', 'clip'])
def test_baseline_variants(variant):
    if variant == 'linear':
        model = _icar(
            cls_head=dict(
                type='LinearClsHead', num_classes=3, in_channels=64),
            itc_loss=None,
            text_encoder=None,
            cls_on_projection=False)
    elif variant == 'cosine':
        model = _icar(
            cls_head=dict(
                type='CosineClsHead', num_classes=3, in_channels=EMBED),
            itc_loss=None,
            text_encoder=None)
    else:
        model = _icar(cls_head=None, vocabulary=_bank())
    model.train()
    if variant == 'clip':
        losses = model.loss(dict(itc=_images(4)), dict(itc=_itc_samples()))
        assert 'loss_itc' in losses
        with pytest.raises(ValueError, match='no cls_head'):
            model.loss(dict(cls=_images(2)), dict(cls=_cls_samples([0, 1])))
    else:
        losses = model.loss(
            dict(cls=_images(2)), dict(cls=_cls_samples([0, 1])))
        assert 'loss_cls' in losses
        with pytest.raises(ValueError, match='no itc_loss'):
            model.loss(dict(itc=_images(4)), dict(itc=_itc_samples()))
        assert model.text_classifier is None
        with pytest.raises(ValueError, match='text encoder'):
            _icar(cls_head=dict(type='CosineClsHead', num_classes=3,
                                in_channels=EMBED),
                  itc_loss=None, text_encoder=None, vocabulary=_bank())
    model.eval()
    with torch.no_grad():
        assert model.predict(_images(2))[0].pred_score.shape == (3, )


def test_bad_configs():
    with pytest.raises(ValueError, match='cls_head`, `itc_loss` or both'):
        _icar(cls_head=None, itc_loss=None)
    with pytest.raises(ValueError, match='needs `text_encoder`'):
        _icar(text_encoder=None)
    with pytest.raises(ValueError, match='needs `text_encoder`'):
        _icar(text_encoder=None, itc_loss=None)
    model = _icar(cls_head=None).eval()
    with pytest.raises(ValueError, match='vocabulary'):
        model.predict(_images(1))
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(_images(1), mode='nope')
    assert isinstance(model, ICAR)


def test_parametric_head_with_text_encoder_scores_vocabularies_at_clip_scale():
    """Shallow fusion: the linear head predicts its classes; a vocabulary
    makes the model score texts at CLIP's scale 100."""
    model = _icar(cls_head=dict(type='LinearClsHead', num_classes=3,
                                in_channels=64),
                  cls_on_projection=False).eval()
    classifier = model.text_classifier
    assert isinstance(classifier, TextClassifier)
    assert classifier.class_texts is None
    assert classifier.scale.item() == pytest.approx(100.)
    images = _images(2)
    with torch.no_grad():
        head = model.predict(images)
        assert head[0].pred_score.shape == (3, )
        assert 'pred_logits' not in head[0]
        classifier.set_vocabulary(_bank(['zebra', 'lamp']))
        out = model.predict(images)
        logits = 100 * model.embed_images(images) @ classifier.ensemble().t()
    torch.testing.assert_close(
        torch.stack([s.pred_logits for s in out]), logits, atol=1e-4,
        rtol=1e-5)


def test_config_mistakes_are_named():
    # the text encoder's own embed_dim must not be silently replaced
    with pytest.raises(ValueError, match='text_encoder.embed_dim=128 but '
                       'model.embed_dim=16'):
        _icar(text_encoder=dict(config=TINY_TEXT, tokenizer='byte',
                                embed_dim=128))
    # the backbone's feature size, not a matmul shape error
    model = _icar(feat_channels=256).train()
    with pytest.raises(ValueError, match='model.feat_channels=64'):
        model.loss(dict(cls=_images(2)), dict(cls=_cls_samples([0, 1])))


# ------------------------------------------------ UniCL, SigLIP, P_c
def _two_streams(labels=(0, 1, 2, 1)):
    return (dict(cls=_images(len(labels)), itc=_images(4, 1)),
            dict(cls=_cls_samples(list(labels)), itc=_itc_samples()))


def _label_aware_infonce(images, texts, labels, scale):
    """UniCL's bidirectional loss from its definition (uniform targets over
    the same-label pairs), written without ContrastiveLoss."""
    f = torch.nn.functional.normalize(images, dim=-1)
    g = torch.nn.functional.normalize(texts, dim=-1)
    same = (labels[:, None] == labels[None, :]).float()
    target = same / same.sum(1, keepdim=True)
    logits = scale * f @ g.t()
    i2t = -(target * logits.log_softmax(1)).sum(1).mean()
    t2i = -(target * logits.t().log_softmax(1)).sum(1).mean()
    return (i2t + t2i) / 2


@pytest.mark.parametrize('with_captions', [True, False])
def test_unified_contrastive_is_unicl_over_both_batches(with_captions):
    model = _icar(unified_contrastive=True).train()
    inputs, samples = _two_streams()
    if not with_captions:
        inputs, samples = dict(cls=inputs['cls']), dict(cls=samples['cls'])
    reps = model.representations(inputs, samples)
    step = int(model.text_classifier.step)
    losses = model.losses_from_representations(reps, samples)
    assert set(losses) == {'loss_itc', 'itc_scale'}  # no classification

    # the reference: the same step's class weights (same template draw)
    model.text_classifier.step.fill_(step)
    labels = torch.tensor([0, 1, 2, 1])
    weights, _ = model.text_classifier.class_embeddings(labels)
    images, texts, pair_labels = reps['cls'], weights[labels], labels
    if with_captions:
        images = torch.cat([images, reps['itc_image']])
        texts = torch.cat([texts, reps['itc_text']])
        pair_labels = torch.cat([labels, torch.tensor([-1, -2, -3, -4])])
    expected = _label_aware_infonce(images, texts, pair_labels,
                                    model.itc_loss.scale)
    torch.testing.assert_close(losses['loss_itc'], expected)

    losses['loss_itc'].backward()
    for name, p in _text_params(model).items():
        assert _nonzero_grad(p), f'UniCL sent no gradient to {name}'
    assert _nonzero_grad(model.visual_proj.weight)
    assert _nonzero_grad(model.itc_loss.log_scale)
    # it predicts with the head's text classifier, like iCAR
    model.eval()
    with torch.no_grad():
        assert model.predict(_images(2))[0].pred_score.shape == (3, )


def test_icar_with_sigmoid_loss_trains_both_towers():
    model = _icar(itc_loss=dict(type='SigmoidContrastiveLoss')).train()
    losses = model.loss(*_two_streams())
    assert {'loss_cls', 'loss_itc', 'itc_bias'} <= set(losses)
    (losses['loss_cls'] + losses['loss_itc']).backward()
    assert _nonzero_grad(model.itc_loss.bias)
    assert _nonzero_grad(_text_params(model)['query'])


def test_separate_cls_projection_keeps_the_joint_space_out_of_l_cls():
    model = _icar(separate_cls_proj=True).train()
    losses = model.loss(dict(cls=_images(4)),
                        dict(cls=_cls_samples([0, 1, 2, 1])))
    losses['loss_cls'].backward()
    assert _nonzero_grad(model.cls_proj.weight)
    assert model.visual_proj.weight.grad is None
    assert _nonzero_grad(_text_params(model)['query'])
    model.zero_grad(set_to_none=True)
    losses = model.loss(dict(itc=_images(4)), dict(itc=_itc_samples()))
    losses['loss_itc'].backward()
    assert model.cls_proj.weight.grad is None
    assert _nonzero_grad(model.visual_proj.weight)

    model.eval()
    images = _images(2)
    with torch.no_grad():
        x = model.extract_feat(images)
        scores = torch.stack([s.pred_score for s in model.predict(images)])
        logits, _ = model.text_classifier(model.cls_proj(x))
        torch.testing.assert_close(scores, logits.softmax(-1))
        torch.testing.assert_close(
            model.embed_images(images),
            torch.nn.functional.normalize(model.visual_proj(x), dim=-1))
    assert 'cls_proj.weight' in model.layer_groups()['image'][-1]


def test_detached_class_weights_keep_l_cls_out_of_the_text_encoder():
    head = dict(type='TextMetaClassifier', classifier=dict(
        class_texts=_bank(), detach_class_weights=True))
    model, reference = _icar(cls_head=head).train(), _icar().train()
    batch = (dict(cls=_images(4)), dict(cls=_cls_samples([0, 1, 2, 1])))
    loss = model.loss(*batch)['loss_cls']
    # the same weights (same template draw), only without their gradient
    torch.testing.assert_close(loss, reference.loss(*batch)['loss_cls'])
    loss.backward()
    assert all(p.grad is None for p in _text_params(model).values())
    assert _nonzero_grad(model.visual_proj.weight)
    assert _nonzero_grad(model.backbone.conv1.weight)
    # the contrastive loss still trains the shared encoder
    losses = model.loss(dict(itc=_images(4, 1)), dict(itc=_itc_samples()))
    losses['loss_itc'].backward()
    for name, p in _text_params(model).items():
        assert _nonzero_grad(p), f'L_itc sent no gradient to {name}'


def test_unicl_and_separate_projection_config_mistakes():
    with pytest.raises(ValueError, match='needs cls_head'):
        _icar(separate_cls_proj=True, cls_head=None)
    with pytest.raises(ValueError, match='UniCL'):
        _icar(unified_contrastive=True, itc_loss=None)
    with pytest.raises(ValueError, match='UniCL'):
        _icar(unified_contrastive=True, cls_on_projection=False,
              cls_head=dict(type='LinearClsHead', num_classes=3,
                            in_channels=64))
