"""Two-process (gloo, CPU) equivalence tests of the cross-rank code paths.

One spawned process group runs every scenario (spawning and importing
``icar_mm`` costs seconds per process); the parent recomputes each scenario
in one process on the concatenated global batch and compares.

Gradient relation asserted throughout: ``all_gather_with_grad``'s backward
sums over ranks the gradients every rank's loss sends to this rank's rows,
and DDP then *averages* replicated parameters' gradients over ranks. Hence,
for equal per-rank batch sizes, with ``L_r`` the loss of rank ``r`` and
``L`` the single-process loss on the global batch:

* ``mean_r L_r == L``;
* the gradient on rank ``r``'s own inputs ``== world_size * dL/d(inputs_r)``;
* ``all_reduce(param.grad) / world_size == dL/d(param)`` (what DDP applies).

Unequal batch sizes: each rank's local loss is a mean over its own rows, so
``mean_r L_r`` is *not* the global mean (it weights the ranks' rows
unequally, exactly like DDP with unequal batches and like OpenCLIP's local
loss). What holds there, and is asserted, is that ``sum_r n_r L_r / N == L``
and that each rank's gradient equals the single-process gradient of
``sum_r L_r`` evaluated on the global batch.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F


import icar_mm  # noqa: E402,F401  (stack fixes before open_clip)
from dist_utils import run_distributed  # noqa: E402
from icar_mm.models.losses.contrastive_loss import \
    ContrastiveLoss  # noqa: E402
from icar_mm.models.text.text_encoder import TextEncoder  # noqa: E402
from tiny_models import record_encoded_texts, text_classifier  # noqa: E402

WORLD = 2
DIM = 16
from tiny_models import TINY_TEXT  # noqa: E402
CLASSES7 = ['cat', 'dog', 'red car', 'blue boat', 'tree', 'house', 'fish']
CLS_LABELS = torch.tensor([0, 6, 2, 2, 4, 1, 6, 3])  # 4 per rank
CLASSES12 = [f'class number {i}' for i in range(12)]
SUB_LABELS = ([1, 5, 5], [5, 2, 9, 9])  # per rank, unequal sizes
MULTI_TEMPLATES = [f'template {i} of a {{}}.' for i in range(40)]
CONTRASTIVE_SIZES = ((4, 4), (3, 5))
GATHER_SIZES = ((3, 5), (0, 3))


# ----------------------------------------------------------------- inputs
def _randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _contrastive_inputs(sizes):
    n = sum(sizes)
    return _randn(1, n, DIM), _randn(2, n, DIM)


def _gather_base(sizes):
    return torch.arange(sum(sizes) * 2, dtype=torch.float).view(-1, 2)


def _text_encoder(state=None):
    enc = TextEncoder(config=TINY_TEXT, tokenizer='byte', embed_dim=DIM)
    if state is not None:
        enc.load_state_dict(state)
    return enc


def _bank(classes, templates=('{}', )):
    return dict(
        classes=classes, templates=list(templates), use_descriptions=False)


def _record_texts(enc):
    return record_encoded_texts(enc)


def _share(sizes, rank):
    start = sum(sizes[:rank])
    return slice(start, start + sizes[rank])


# ------------------------------------------------------------- the worker
def _worker(rank, world, state):
    """Every scenario on one rank; returns plain tensors / lists."""
    import torch.distributed as dist
    from open_clip.loss import ClipLoss

    from icar_mm.models.utils.distributed import (all_gather_no_grad,
                                                  all_gather_with_grad,
                                                  rank_offset, rank_slice)
    out = {}

    # all_gather_with_grad on unequal (and empty) shards
    for sizes in GATHER_SIZES:
        base = _gather_base(sizes)
        own = base[_share(sizes, rank)].clone().requires_grad_()
        gathered = all_gather_with_grad(own)
        # rank-dependent weights: the grad of our rows is the sum over ranks
        (gathered * base * (rank + 1)).sum().backward()
        no_grad = all_gather_no_grad(own)
        out[('gather', sizes)] = dict(
            gathered=gathered.detach(),
            grad=own.grad.clone(),
            no_grad=no_grad,
            no_grad_requires_grad=no_grad.requires_grad,
            offset=rank_offset(sizes[rank], torch.device('cpu')))
    out['rank_slice'] = [rank_slice(t) for t in (7, 8, 1)]

    # the gradient reaching the gather may be shared with another branch
    # (AddBackward hands the same tensor to both inputs): it must not be
    # reduced in place
    other = torch.ones(8, 2, requires_grad=True)
    branch = other * 2  # created first: its backward runs after the gather's
    own = torch.ones(4, 2, requires_grad=True)
    gathered = all_gather_with_grad(own)
    weight = torch.full((8, 2), float(rank + 1))
    ((gathered + branch) * weight).sum().backward()
    out['gather_shared_grad'] = dict(other=other.grad, own=own.grad)

    # contrastive loss (ours, and OpenCLIP's for equal sizes)
    for sizes in CONTRASTIVE_SIZES:
        images, texts = _contrastive_inputs(sizes)
        x = images[_share(sizes, rank)].clone().requires_grad_()
        t = texts[_share(sizes, rank)].clone().requires_grad_()
        crit = ContrastiveLoss()
        loss = crit(x, t)['loss_itc']
        loss.backward()
        res = dict(
            loss=loss.detach(),
            grad_x=x.grad.clone(),
            grad_t=t.grad.clone(),
            grad_scale=crit.log_scale.grad.clone())
        if len(set(sizes)) == 1:
            x2 = x.detach().clone().requires_grad_()
            t2 = t.detach().clone().requires_grad_()
            log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
            ref = ClipLoss(
                local_loss=True,
                gather_with_grad=True,
                rank=rank,
                world_size=world)
            ref_loss = ref(
                F.normalize(x2, dim=-1), F.normalize(t2, dim=-1),
                log_scale.exp())
            ref_loss.backward()
            res.update(
                openclip_loss=ref_loss.detach(),
                openclip_grad_x=x2.grad.clone(),
                openclip_grad_t=t2.grad.clone(),
                openclip_grad_scale=log_scale.grad.clone())
        out[('itc', sizes)] = res

    # class-sharded classifier, 7 classes over 2 ranks, one template
    enc = _text_encoder(state)
    seen = _record_texts(enc)
    clf = text_classifier(
        enc, _bank(CLASSES7), shard_classes=True, seed=3).train()
    feats = _randn(4, len(CLS_LABELS), DIM)
    share = _share((4, 4), rank)
    x = feats[share].clone().requires_grad_()
    logits, labels = clf(x, CLS_LABELS[share])
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {}
    for name, p in enc.named_parameters():
        g = p.grad.clone()
        dist.all_reduce(g)
        grads[name] = g / world  # what DDP applies
    out['shard'] = dict(
        logits=logits.detach(),
        labels=labels,
        loss=loss.detach(),
        grad_x=x.grad.clone(),
        param_grads=grads,
        texts=seen[:],
        step=int(clf.step))

    # class-sharded classifier with many templates: which texts are encoded
    enc = _text_encoder(state)
    seen = _record_texts(enc)
    clf = text_classifier(
        enc, _bank(CLASSES7, MULTI_TEMPLATES), shard_classes=True, seed=3).train()
    with torch.no_grad():
        logits, _ = clf(feats[share], CLS_LABELS[share])
    out['shard_templates'] = dict(texts=seen[:], logits=logits)

    # test-time ensemble: each rank encodes its share of the classes
    enc = _text_encoder(state)
    seen = _record_texts(enc)
    clf = text_classifier(enc, _bank(CLASSES7, MULTI_TEMPLATES[:3])).eval()
    ensemble = clf.ensemble()
    out['ensemble'] = dict(
        weights=ensemble,
        num_texts=sum(len(b) for b in seen),
        cached=clf.ensemble() is ensemble)

    # class subsampling across ranks, with and without sharding
    for shard in (False, True):
        enc = _text_encoder(state)
        seen = _record_texts(enc)
        clf = text_classifier(
            enc, _bank(CLASSES12), num_negatives=3, shard_classes=shard,
            seed=5).train()
        labels = torch.tensor(SUB_LABELS[rank])
        x = _randn(10 + rank, len(labels), DIM)
        with torch.no_grad():
            logits, new_labels = clf(x, labels)
        encoded = [t for batch in seen for t in batch]
        if shard:
            shards = [None] * world
            dist.all_gather_object(shards, encoded)
            encoded = [t for s in shards for t in s]
        out[('subsample', shard)] = dict(
            logits=logits, labels=new_labels, encoded=encoded, feats=x)
    return out


pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module')
def state():
    torch.manual_seed(0)
    return _text_encoder().state_dict()


@pytest.fixture(scope='module')
def results(state):
    return run_distributed(__file__, '_worker', WORLD, args=(state, ))


def _close(a, b, **kw):
    kw.setdefault('atol', 1e-6)
    kw.setdefault('rtol', 1e-5)
    torch.testing.assert_close(a, b, **kw)


# ------------------------------------------------------------ gather ops
@pytest.mark.parametrize('sizes', GATHER_SIZES)
def test_all_gather_with_grad_unequal_sizes(results, sizes):
    base = _gather_base(sizes)
    weight_sum = sum(r + 1 for r in range(WORLD))
    for rank, res in enumerate(results):
        r = res[('gather', sizes)]
        _close(r['gathered'], base, atol=0, rtol=0)
        _close(r['no_grad'], base, atol=0, rtol=0)
        assert not r['no_grad_requires_grad']
        # backward: sum over ranks of the gradient of each rank's loss,
        # restricted to this rank's rows
        _close(r['grad'], weight_sum * base[_share(sizes, rank)])
        assert r['offset'] == sum(sizes[:rank])


def test_all_gather_with_grad_leaves_shared_gradients_alone(results):
    for rank, res in enumerate(results):
        r = res['gather_shared_grad']
        # d/d(other) of this rank's loss only: 2 * (rank + 1)
        _close(r['other'], torch.full((8, 2), 2. * (rank + 1)))
        # sum over ranks of weight_r on our rows
        _close(r['own'], torch.full((4, 2), float(sum(
            r_ + 1 for r_ in range(WORLD)))))


def test_rank_slice_covers_all_items(results):
    for total, i in ((7, 0), (8, 1), (1, 2)):
        slices = [res['rank_slice'][i] for res in results]
        items = [j for s in slices for j in range(total)[s]]
        assert items == list(range(total))
        sizes = [len(range(total)[s]) for s in slices]
        assert max(sizes) - min(sizes) <= 1


# ------------------------------------------------------- contrastive loss
def _single_process_itc(sizes):
    images, texts = _contrastive_inputs(sizes)
    x = images.clone().requires_grad_()
    t = texts.clone().requires_grad_()
    crit = ContrastiveLoss()
    loss = crit(x, t)['loss_itc']
    loss.backward()
    return loss.detach(), x.grad, t.grad, crit.log_scale.grad


def test_contrastive_equal_sizes_matches_global_batch(results):
    sizes = (4, 4)
    loss, gx, gt, gs = _single_process_itc(sizes)
    ranks = [res[('itc', sizes)] for res in results]
    _close(torch.stack([r['loss'] for r in ranks]).mean(), loss)
    for rank, r in enumerate(ranks):
        share = _share(sizes, rank)
        _close(r['grad_x'], WORLD * gx[share])
        _close(r['grad_t'], WORLD * gt[share])
    # the replicated scale: DDP's average equals the global gradient
    _close(torch.stack([r['grad_scale'] for r in ranks]).mean(), gs)


def test_contrastive_equal_sizes_matches_openclip_local_loss(results):
    for res in results:
        r = res[('itc', (4, 4))]
        _close(r['loss'], r['openclip_loss'])
        _close(r['grad_x'], r['openclip_grad_x'])
        _close(r['grad_t'], r['openclip_grad_t'])
        _close(r['grad_scale'], r['openclip_grad_scale'])


def test_contrastive_unequal_sizes_local_loss_semantics(results):
    sizes = (3, 5)
    images, texts = _contrastive_inputs(sizes)
    x = images.clone().requires_grad_()
    t = texts.clone().requires_grad_()
    scale = 1 / 0.07
    logits = scale * F.normalize(x, dim=-1) @ F.normalize(t, dim=-1).t()
    target = torch.arange(sum(sizes))
    per_row = (F.cross_entropy(logits, target, reduction='none') +
               F.cross_entropy(logits.t(), target, reduction='none')) / 2
    rank_losses = [per_row[_share(sizes, r)].mean() for r in range(WORLD)]
    # what the ranks' backward passes compute together: sum_r L_r
    torch.stack(rank_losses).sum().backward()
    ranks = [res[('itc', sizes)] for res in results]
    for rank, r in enumerate(ranks):
        share = _share(sizes, rank)
        _close(r['loss'], rank_losses[rank].detach())
        _close(r['grad_x'], x.grad[share])
        _close(r['grad_t'], t.grad[share])
    global_loss = _single_process_itc(sizes)[0]
    weighted = sum(n * r['loss'] for n, r in zip(sizes, ranks)) / sum(sizes)
    _close(weighted, global_loss)
    # documented semantics: the plain mean over unequal ranks differs
    plain = torch.stack([r['loss'] for r in ranks]).mean()
    assert not torch.allclose(plain, global_loss, atol=1e-4)


# ---------------------------------------------------- sharded classifier
def test_sharded_classifier_matches_unsharded_global_batch(results, state):
    enc = _text_encoder(state)
    clf = text_classifier(enc, _bank(CLASSES7), seed=3).train()
    feats = _randn(4, len(CLS_LABELS), DIM).requires_grad_()
    logits, labels = clf(feats, CLS_LABELS)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    ranks = [res['shard'] for res in results]
    # every rank encoded only its share of the 7 classes (4 + 3)
    assert [[len(b) for b in r['texts']] for r in ranks] == [[4], [3]]
    assert [t for r in ranks for t in r['texts'][0]] == CLASSES7
    _close(torch.cat([r['logits'] for r in ranks]), logits.detach(),
           atol=1e-5, rtol=1e-5)
    for rank, r in enumerate(ranks):
        assert torch.equal(r['labels'], CLS_LABELS[_share((4, 4), rank)])
        assert r['step'] == 1
        _close(r['grad_x'], WORLD * feats.grad[_share((4, 4), rank)],
               atol=1e-5, rtol=1e-4)
    _close(torch.stack([r['loss'] for r in ranks]).mean(), loss.detach())
    grads = ranks[0]['param_grads']
    checked = 0
    for name, p in enc.named_parameters():
        if p.grad is None:
            assert grads[name].abs().max() == 0, name
            continue
        _close(grads[name], p.grad, atol=1e-6, rtol=1e-4, msg=name)
        _close(ranks[1]['param_grads'][name], grads[name], atol=0, rtol=0)
        checked += p.grad.abs().sum() > 0
    # the transformer's weights got gradient, not just the projection
    assert checked > 5
    assert enc.model.encoder.layer[0].attention.self.query.weight.grad.abs(
    ).sum() > 0


def test_sharded_classifier_samples_same_templates_as_unsharded(
        results, state):
    clf = text_classifier(
        _text_encoder(state), _bank(CLASSES7, MULTI_TEMPLATES),
        seed=3).train()
    expected = clf.class_texts.sample_texts(range(7), clf._generator())
    encoded = [
        t for res in results for t in res['shard_templates']['texts'][0]
    ]
    assert encoded == expected


# ------------------------------------------------------ test-time ensemble
def test_sharded_ensemble_matches_single_process(results, state):
    enc = _text_encoder(state)
    clf = text_classifier(enc, _bank(CLASSES7, MULTI_TEMPLATES[:3]))
    expected = clf.ensemble()
    for rank, res in enumerate(results):
        r = res['ensemble']
        _close(r['weights'], expected, atol=1e-5, rtol=1e-5)
        assert r['num_texts'] == 3 * (4 if rank == 0 else 3)
        assert r['cached']


# ------------------------------------------------------- class subsampling
@pytest.mark.parametrize('shard', [False, True])
def test_subsampling_across_ranks(results, state, shard):
    ranks = [res[('subsample', shard)] for res in results]
    index = {name: i for i, name in enumerate(CLASSES12)}
    encoded = [[index[t] for t in r['encoded']] for r in ranks]
    assert encoded[0] == encoded[1], 'ranks encoded different classes'
    selected = encoded[0]
    assert len(set(selected)) == len(selected)
    positives = {c for labels in SUB_LABELS for c in labels}
    assert positives <= set(selected)
    negatives = set(selected) - positives
    assert len(negatives) == 3
    enc = _text_encoder(state)
    full = text_classifier(enc, _bank(CLASSES12), seed=5).train()
    for rank, r in enumerate(ranks):
        old = torch.tensor(SUB_LABELS[rank])
        assert r['logits'].shape == (len(old), len(selected))
        assert torch.equal(torch.tensor(selected)[r['labels']], old)
        with torch.no_grad():
            full_logits, _ = full(r['feats'], old)
        # every column is the full classifier's column of its class, in
        # particular the remapped true class's logit
        _close(r['logits'], full_logits[:, selected], atol=1e-5, rtol=1e-5)
        _close(r['logits'].gather(1, r['labels'][:, None]),
               full_logits.gather(1, old[:, None]), atol=1e-5, rtol=1e-5)
