"""Image-text data in the three OpenCLIP formats, streamed shards, bad data.

Real JPEG files and captions (the synthetic world's, see wds_data_gen.py)
are written as CSV, JSON lines and webdataset shards and read back through
the pretraining config's image-text dataset entry.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch.utils.data import DataLoader


import icar_mm  # noqa: E402,F401
import wds_data_gen as gen  # noqa: E402
from icar_mm.datasets import (DataHealth, ImageTextDataset,  # noqa: E402
                              TooManyBadSamplesError, WebImageTextDataset,
                              collate_with_stats)
from icar_mm.datasets.data_health import STATS_KEY  # noqa: E402
from icar_mm.registry import DATASETS  # noqa: E402

from repo_paths import REPO_ROOT as REPO, load_tool  # noqa: E402
BASE = osp.join(REPO, 'configs/_base_/datasets/in22k-laion_bs128.py')
PLAIN = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs', algorithm_keys=['text'])
]
NUM = 240


@pytest.fixture(scope='module')
def pairs():
    return gen.make_pairs(NUM)


@pytest.fixture(scope='module')
def written(pairs, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('pairs'))
    return root, gen.write_pairs(root, pairs, maxcount=30)


def _config_dataset(**overrides):
    """The pretraining config's image-text dataset entry, overridden."""
    cfg = Config.fromfile(BASE).train_dataloader.itc.dataset.to_dict()
    cfg.update(pipeline=PLAIN, **overrides)
    return DATASETS.build(cfg)


def _samples(ds):
    """key -> (caption, image tensor) of every sample of a dataset."""
    if isinstance(ds, WebImageTextDataset):
        items = [s for batch in ds for s in batch]
    else:
        items = [ds[i] for i in range(len(ds))]
    out = {}
    for s in items:
        s.pop(STATS_KEY, None)
        key = osp.splitext(osp.basename(
            s['data_samples'].img_path.split('#')[-1]))[0]
        assert key not in out, f'duplicate {key}'
        out[key] = (s['data_samples'].text, s['inputs'])
    return out


def test_every_format_round_trips(pairs, written):
    root, paths = written
    assert len(paths['shards']) == NUM // 30
    csv_ds = _config_dataset(data_root=root, ann_file='pairs.csv',
                             data_prefix='')
    jsonl_ds = _config_dataset(data_root=root, ann_file='pairs.jsonl',
                               data_prefix='', image_key='image',
                               caption_key='caption')
    wds_ds = _config_dataset(data_root=root,
                             ann_file='shards/{000000..000007}.tar',
                             batch_size=64)
    assert isinstance(csv_ds, ImageTextDataset)
    assert isinstance(wds_ds, WebImageTextDataset)
    assert wds_ds.source_names == ['laion']
    ref = {p['key']: p['caption'] for p in pairs}
    got = [_samples(ds) for ds in (csv_ds, jsonl_ds, wds_ds)]
    for samples in got:
        assert {k: v[0] for k, v in samples.items()} == ref
    for key in ref:
        img = got[0][key][1]
        assert img.dtype == torch.uint8 and img.shape == (3, 32, 32)
        assert torch.equal(img, got[1][key][1])
        assert torch.equal(img, got[2][key][1])  # the same JPEG bytes
    # the caption can also come from key.json
    json_only = WebImageTextDataset(
        urls=paths['pattern'], caption_ext='json', pipeline=PLAIN,
        batch_size=NUM, shuffle=False)
    assert {k: v[0] for k, v in _samples(json_only).items()} == ref


def test_synthetic_world_shards_match_its_csv(tmp_path):
    from icar_mm.datasets import (SyntheticWorld,
                                  export_synthetic_world_webdataset)
    world = SyntheticWorld(seed=0, image_size=32)
    world.export(str(tmp_path), num_per_class=1, num_captions=60,
                 splits=('train', ))
    info = export_synthetic_world_webdataset(world, str(tmp_path),
                                             num_captions=60, maxcount=25)
    assert info['num_samples'] == 60 and len(info['shards']) == 3
    csv_ds = _config_dataset(data_root=str(tmp_path),
                             ann_file='captions.csv', data_prefix='')
    wds_ds = _config_dataset(data_root=str(tmp_path),
                             ann_file=info['pattern'], batch_size=25)
    a, b = _samples(csv_ds), _samples(wds_ds)
    assert sorted(a) == sorted(b) and len(a) == 60
    assert all(a[k][0] == b[k][0] and torch.equal(a[k][1], b[k][1])
               for k in a)


def test_laion_scale_config_builds(written):
    root, paths = written
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/in22k-laion-wds_bs128.py'))
    itc = cfg.train_dataloader.itc
    assert itc.sampler is None and 'image_key' not in itc.dataset
    dataset = itc.dataset.to_dict()
    dataset.update(data_root=root, pipeline=PLAIN, batch_size=8,
                   epoch_samples=50)
    for src in dataset['sources']:
        src['urls'] = 'shards/{000000..000003}.tar'
    ds = DATASETS.build(dataset)
    assert ds.resampled and ds.source_names == ['laion400m', 'cc12m']
    assert [s.weight for s in ds.sources] == [4.0, 1.0]
    assert sum(len(b) for b in ds) == 50


def test_shuffled_epochs_and_workers(written):
    root, paths = written
    ds = WebImageTextDataset(urls=paths['pattern'], pipeline=PLAIN,
                             batch_size=16, shuffle_buffer=50, seed=3)
    loader = DataLoader(ds, batch_size=None, num_workers=2,
                        collate_fn=collate_with_stats)
    orders = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        keys, opened = [], set()
        for batch in loader:
            st = batch.pop(STATS_KEY)
            assert st['epoch'] == epoch and not st['skipped']
            opened.update(u for _, u in st['opened'])
            assert len(batch['inputs']) <= 16
            keys += [s.img_path for s in batch['data_samples']]
        assert len(keys) == len(set(keys)) == NUM
        assert opened == set(paths['shards'])
        orders.append(keys)
    assert orders[0] != orders[1]  # a new shuffle each epoch


def _dist_reader(rank, world_size, pattern):
    torch.set_num_threads(1)
    ds = WebImageTextDataset(urls=pattern, pipeline=PLAIN, batch_size=7,
                             seed=1)
    assert (ds.rank, ds.world_size) == (rank, world_size)
    # fork, as mmengine's env_cfg sets (a spawned rank defaults to spawn,
    # which re-imports everything in each worker)
    loader = DataLoader(ds, batch_size=None, num_workers=2,
                        collate_fn=collate_with_stats,
                        multiprocessing_context='fork')
    epochs = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        epochs.append([
            s.img_path for b in loader for s in b['data_samples']
        ])
    return epochs


def test_two_ranks_two_workers_read_each_sample_once(written):
    from dist_utils import run_distributed
    root, paths = written
    results = run_distributed(__file__, '_dist_reader', 2,
                              args=(paths['pattern'], ))
    for epoch in (0, 1):
        keys = results[0][epoch] + results[1][epoch]
        assert len(keys) == NUM, epoch
        assert len(set(keys)) == NUM, epoch  # no duplicates across ranks
        assert set(results[0][epoch]).isdisjoint(results[1][epoch])
    assert results[0][0] != results[0][1]


def test_resampled_sources_and_weights(written, tmp_path):
    root, paths = written
    other = gen.write_pairs(str(tmp_path), gen.make_pairs(60, seed=5),
                            maxcount=30, formats=('wds', ))
    ds = WebImageTextDataset(
        sources=[dict(urls=paths['pattern'], weight=3, name='big'),
                 dict(urls=other['pattern'], weight=1, name='small')],
        pipeline=PLAIN, batch_size=20, resampled=True, epoch_samples=400,
        shuffle_buffer=20, shuffle_initial=10)
    loader = DataLoader(ds, batch_size=None, num_workers=2,
                        collate_fn=collate_with_stats)
    counts = {'big': 0, 'small': 0}
    n = 0
    for batch in loader:
        st = batch.pop(STATS_KEY)
        for k, v in st['samples'].items():
            counts[k] += v
        n += len(batch['inputs'])
    assert n == 400  # the epoch length is the sample count
    assert 0.65 < counts['big'] / n < 0.85  # weight 3:1
    # resume mid-epoch: the rest of the epoch's sample count, new draws
    ds2 = WebImageTextDataset(
        urls=paths['pattern'], pipeline=PLAIN, batch_size=10,
        resampled=True, epoch_samples=100)
    it = iter(ds2)
    for _ in range(3):
        ds2.record(next(it)[0][STATS_KEY])
    state = ds2.state_dict()
    assert state['samples'] == 30 and state['epoch'] == 0
    ds3 = WebImageTextDataset(
        urls=paths['pattern'], pipeline=PLAIN, batch_size=10,
        resampled=True, epoch_samples=100)
    ds3.load_state_dict(state)
    assert sum(len(b) for b in ds3) == 70


def test_resume_skips_consumed_shards(written):
    root, paths = written
    kw = dict(urls=paths['pattern'], pipeline=PLAIN, batch_size=10,
              shuffle_buffer=1, seed=7)
    ds = WebImageTextDataset(**kw)
    ds.set_epoch(2)
    it = iter(ds)
    consumed = []
    for _ in range(4):  # 40 samples: shard 1 done, shard 2 started
        batch = next(it)
        ds.record(batch[0].pop(STATS_KEY))
        consumed += [s['data_samples'].img_path for s in batch]
    state = ds.state_dict()
    assert state['epoch'] == 2 and len(state['opened']) == 2
    resumed = WebImageTextDataset(**kw)
    resumed.load_state_dict(state)
    assert resumed.epoch == 2
    rest = [s['data_samples'].img_path for b in resumed for s in b]
    assert not set(rest) & set(consumed)  # nothing consumed is read again
    shard_of = {k.split('#')[0] for k in rest}
    assert not shard_of & set(state['opened'])
    assert len(rest) == NUM - 2 * 30  # the other shards, all of them


def test_bad_samples_are_skipped_counted_and_limited(pairs, tmp_path):
    bad = gen.bad_pairs(pairs[:90], garbage=[3], truncated=[40],
                        empty_caption=[50])
    paths = gen.write_pairs(str(tmp_path), bad, maxcount=30)
    gen.truncate_tar(paths['shards'][2], keep=0.5)  # cut-off shard
    ds = WebImageTextDataset(
        sources=[dict(urls=paths['pattern'], name='web')], pipeline=PLAIN,
        batch_size=8, shuffle=False)
    loader = DataLoader(ds, batch_size=None, num_workers=1,
                        collate_fn=collate_with_stats)
    health = DataHealth(max_skipped_ratio=None)
    keys = []
    for batch in loader:  # the run continues past every bad sample
        health.add_batch(batch.pop(STATS_KEY), 'web', 0)
        keys += [s.img_path.split('#')[1] for s in batch['data_samples']]
    reasons = health.skipped['web']
    assert reasons['bad_image'] == 2
    assert reasons['empty_caption'] == 1
    assert reasons['truncated_shard'] == 1
    assert health.total('web') == sum(reasons.values())
    assert health.samples['web'] == len(keys)
    assert {'000003', '000040', '000050'}.isdisjoint(keys)
    assert 60 - 3 < len(keys) < 90 - 3  # the cut-off shard's head is read
    logged = {(e[1], e[2].split('#')[-1]) for e in health.pending}
    assert ('bad_image', '000003') in logged
    assert ('empty_caption', '000050') in logged
    assert any(r == 'truncated_shard' and k.endswith('000002.tar')
               for r, k in logged)
    # a limit turns too many failures into a clear error
    strict = DataHealth(max_skipped=2)
    with pytest.raises(TooManyBadSamplesError, match="'web' skipped 3"):
        for batch in loader:
            strict.add_batch(batch.pop(STATS_KEY), 'web', 0)
    # and so do only bad samples (a wrong extension, say)
    wrong = WebImageTextDataset(urls=paths['pattern'], pipeline=PLAIN,
                                batch_size=8, image_ext='png',
                                max_consecutive_bad=20)
    with pytest.raises(TooManyBadSamplesError, match='in a row'):
        list(wrong)


def test_csv_bad_rows_and_files(pairs, tmp_path):
    paths = gen.write_pairs(str(tmp_path), gen.bad_pairs(
        pairs[:20], empty_caption=[5]), formats=('csv', ))
    gen.corrupt_file(str(tmp_path / 'images' / '000007.jpg'), 'truncate')
    gen.corrupt_file(str(tmp_path / 'images' / '000008.jpg'), 'garbage')
    with pytest.raises(ValueError, match='line 7.*empty caption'):
        ImageTextDataset(paths['csv'], pipeline=PLAIN)
    ds = ImageTextDataset(paths['csv'], data_root=str(tmp_path),
                          pipeline=PLAIN, skip_bad_samples=True)
    assert len(ds) == 19
    assert ds.load_skipped == [('pairs', 'empty_caption',
                                f'{paths["csv"]} line 7', '')]
    loader = DataLoader(ds, batch_size=5, shuffle=False,
                        collate_fn=collate_with_stats)
    health = DataHealth()
    n = 0
    for batch in loader:
        health.add_batch(batch.pop(STATS_KEY, None), ds.source_name,
                         len(batch['inputs']))
        n += len(batch['inputs'])
    assert n == 19  # bad images replaced by the next sample
    assert health.skipped['pairs'] == {'bad_image': 2}
    assert {osp.basename(e[2]) for e in health.pending} == {
        '000007.jpg', '000008.jpg'}
    # the rows left out at load time count against the limit too
    from icar_mm.datasets import TwoStreamDataLoader
    two = TwoStreamDataLoader(dict(itc=loader))
    assert two.health.skipped == {'pairs': {'empty_caption': 1}}
    with pytest.raises(TooManyBadSamplesError, match='skipped 1 of 20'):
        TwoStreamDataLoader(
            dict(itc=loader),
            health=DataHealth(max_skipped_ratio=0.01, min_samples=10))


def _tool(name):
    return load_tool(f'tools/dataset_converters/{name}.py')


def test_tools_pack_and_verify(pairs, tmp_path, capsys):
    paths = gen.write_pairs(str(tmp_path), pairs[:50], formats=('csv', ))
    gen.corrupt_file(str(tmp_path / 'images' / '000004.jpg'), 'garbage')
    assert _tool('csv_to_wds').main(
        [paths['csv'], str(tmp_path / 'packed'), '--maxcount', '20']) == 0
    assert '50 samples in 3 shards' in capsys.readouterr().out
    shard = str(tmp_path / 'packed' / '{000000..000002}.tar')
    gen.truncate_tar(str(tmp_path / 'packed' / '000002.tar'), keep=0.5)
    report_file = str(tmp_path / 'report.json')
    verify = _tool('verify_shards')
    assert verify.main([shard, '--json', report_file]) == 1
    out = capsys.readouterr().out
    assert '3 shards, ' in out and 'truncated_shard' in out
    import json
    with open(report_file) as f:
        report = json.load(f)
    assert report['num_shards'] == 3
    assert report['broken_by_reason'] == {'bad_image': 1}
    assert report['broken'][0]['key'].endswith('000000.tar#000000004')
    assert [b['reason'] for b in report['bad_shards']] == ['truncated_shard']
    assert report['size_mismatch'][0]['shard'].endswith('000002.tar')
    assert report['samples_per_shard'][
        str(tmp_path / 'packed' / '000000.tar')] == 19
    # a sound shard set passes
    assert verify.main([str(tmp_path / 'packed' / '000001.tar')]) == 0


def test_ratio_limit_applies_to_a_source_smaller_than_min_samples(
        pairs, tmp_path):
    """A 40-row CSV with 5 missing images (12.5 %): the 5 % limit stops the
    run once the whole small source was read (min_samples is 1000)."""
    import os
    paths = gen.write_pairs(str(tmp_path), pairs[:40], formats=('csv', ))
    for i in range(5):
        os.remove(str(tmp_path / 'images' / f'{i:06d}.jpg'))
    ds = ImageTextDataset(paths['csv'], data_root=str(tmp_path),
                          pipeline=PLAIN, skip_bad_samples=True)
    from icar_mm.datasets import TwoStreamDataLoader
    loader = DataLoader(ds, batch_size=8, shuffle=False,
                        collate_fn=collate_with_stats)
    two = TwoStreamDataLoader(dict(itc=loader))
    assert two.health.sizes == {ds.source_name: 40}
    with pytest.raises(TooManyBadSamplesError, match='of 4[0-9] samples'):
        for _, _ in zip(range(10), two):
            pass
    # a large source is not stopped by its first bad samples
    health = DataHealth()
    health.add_batch(dict(skipped=[('big', 'bad_image', 'k0', '')]), 'big',
                     7)
    assert health.total('big') == 1
