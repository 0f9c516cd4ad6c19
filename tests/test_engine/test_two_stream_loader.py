"""Two-stream loading: batch sizes, stream ratio, exact mid-epoch resume."""
from functools import partial

import numpy as np
import pytest
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dataset.utils import worker_init_fn as default_worker_init_fn
from torch.utils.data import DataLoader, Dataset


import icar_mm  # noqa: E402,F401
from icar_mm.datasets import (TwoStreamDataLoader,  # noqa: E402
                              collate_with_stats, stream_schedule)


class _Noisy(Dataset):
    """Index + a random augmentation draw from the worker's generator."""

    def __init__(self, n: int, tag: int) -> None:
        self.n, self.tag = n, tag

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.tensor([self.tag, i]),
                    data_samples=float(np.random.rand()))


def _loader(n, tag, batch_size, workers, seed=0):
    return DataLoader(
        _Noisy(n, tag),
        batch_size=batch_size,
        sampler=InfiniteSampler(_Noisy(n, tag), shuffle=True, seed=seed),
        num_workers=workers,
        persistent_workers=workers > 0,
        worker_init_fn=partial(default_worker_init_fn, num_workers=workers,
                               rank=0, seed=seed) if workers else None,
        collate_fn=collate_with_stats)


def test_schedules():
    joint = stream_schedule(dict(cls=1, itc=3), 'joint', ['cls', 'itc'])
    assert [joint(t) for t in range(6)] == [('itc', ), ('itc', ),
                                            ('cls', 'itc')] * 2
    alt = stream_schedule(dict(cls=1, itc=3), 'alternate', ['cls', 'itc'])
    seq = [alt(t)[0] for t in range(8)]
    assert seq.count('cls') == 2 and seq.count('itc') == 6
    assert seq[:4].count('cls') == 1  # 1 classification per 3 image-text
    rnd = stream_schedule(dict(cls=1, itc=3), 'random', ['cls', 'itc'],
                          seed=5)
    draws = [rnd(t)[0] for t in range(2000)]
    assert 0.2 < draws.count('cls') / 2000 < 0.3
    assert draws == [rnd(t)[0] for t in range(2000)]  # seeded per iteration
    both = stream_schedule(None, 'joint', ['cls', 'itc'])
    assert both(7) == ('cls', 'itc')
    with pytest.raises(ValueError, match='integers'):
        stream_schedule(dict(cls=1, itc=2.5), 'joint', ['cls', 'itc'])
    with pytest.raises(ValueError, match='each stream'):
        stream_schedule(dict(cls=1), 'joint', ['cls', 'itc'])


def _take(loader, n):
    it = iter(loader)
    out = []
    for _ in range(n):
        batch = next(it)
        out.append({
            k: ([t.tolist() for t in v['inputs']], v['data_samples'])
            for k, v in batch.items()
        })
    return out


@pytest.mark.parametrize('workers', [0, 1])
def test_ratio_batch_sizes_and_exact_resume(workers):
    torch.set_num_threads(1)

    def make():
        np.random.seed(0)
        torch.manual_seed(0)
        return TwoStreamDataLoader(
            dict(cls=_loader(20, 0, 4, workers),
                 itc=_loader(30, 1, 6, workers, seed=1)),
            stream_ratio=dict(cls=1, itc=2))

    full = _take(make(), 10)
    for t, batch in enumerate(full):
        assert set(batch) == ({'cls', 'itc'} if t % 2 else {'itc'})
        assert all(len(v[0]) == 6 for k, v in batch.items() if k == 'itc')
        assert all(len(v[0]) == 4 for k, v in batch.items() if k == 'cls')
        assert all(x[0] == (0 if k == 'cls' else 1) for k, v in batch.items()
                   for x in v[0])
    # epoch boundaries: 20 / 4 = 5 cls batches, every index once
    cls_idx = [x[1] for b in full for x in b.get('cls', ([], ))[0]]
    assert sorted(cls_idx[:20]) == list(range(20))
    # resume at iteration 5 (mid-epoch of both streams): the same batches
    loader = make()
    loader.resume(5)
    assert _take(loader, 5) == full[5:]


def test_bad_samples_reach_the_main_process():
    class _Bad(_Noisy):

        def __getitem__(self, i):
            out = super().__getitem__(i)
            if i % 5 == 0:
                out['__data_stats__'] = dict(
                    skipped=[('src', 'bad_image', f'img{i}', '')])
            return out

    dl = DataLoader(_Bad(10, 0), batch_size=5, shuffle=False,
                    num_workers=1, collate_fn=collate_with_stats)
    loader = TwoStreamDataLoader(dict(cls=dl))
    it = iter(loader)
    batches = [next(it) for _ in range(4)]  # two epochs
    assert all('__data_stats__' not in b['cls'] for b in batches)
    assert loader.health.skipped == {'src': {'bad_image': 2}}
    assert loader.health.samples == {'cls': 20}
    assert [e[2] for e in loader.health.pending] == ['img0', 'img5']
