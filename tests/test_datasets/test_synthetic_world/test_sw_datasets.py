"""mmpretrain datasets and the ``synthetic_world`` class-text source
(datasets.py)."""
import pytest

from icar_mm.datasets.synthetic_world.world import SyntheticWorld


def test_cls_dataset():
    from icar_mm.registry import DATASETS
    ds = DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split='heldout',
             num_per_class=2, world=dict(seed=0, image_size=32),
             pipeline=[dict(type='PackInputs')]))
    world = SyntheticWorld(seed=0, image_size=32)
    names = [t['name'] for t in world.heldout_classes]
    assert list(ds.metainfo['classes']) == names
    assert ds.metainfo['class_texts'] == world.heldout_classes
    assert len(ds) == 2 * len(names)
    ref = world.split_samples('heldout', 2, seed=0)
    info = ds.get_data_info(3)
    assert info['img'].tobytes() == ref[3][0].tobytes()
    assert info['gt_label'] == ref[3][1]
    assert info['img_shape'] == info['ori_shape'] == (32, 32)
    packed = ds[3]
    assert tuple(packed['inputs'].shape) == (3, 32, 32)
    assert packed['data_samples'].gt_label.item() == ref[3][1]
    assert ds.get_gt_labels().tolist() == [label for _, label in ref]

    train = DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split='train', num_per_class=1))
    val = DATASETS.build(
        dict(type='SyntheticWorldClsDataset', split='val', num_per_class=1))
    assert len(train.metainfo['classes']) == 26
    assert train.get_data_info(0)['img'].shape == (64, 64, 3)
    assert (train.get_data_info(0)['img'] != val.get_data_info(0)['img']
            ).any()
    with pytest.raises(ValueError, match='unknown split'):
        DATASETS.build(dict(type='SyntheticWorldClsDataset', split='test'))
    with pytest.raises(ValueError, match='fixed'):
        DATASETS.build(
            dict(type='SyntheticWorldClsDataset', classes=['a', 'b']))


def test_caption_dataset_and_class_text_source():
    from icar_mm.registry import CLASS_TEXT_SOURCES, DATASETS
    ds = DATASETS.build(
        dict(type='SyntheticWorldCaptionDataset', num_samples=5, seed=2,
             pipeline=[dict(type='PackInputs', algorithm_keys=['text'])]))
    ref = SyntheticWorld().caption_samples(5, seed=2)
    assert len(ds) == 5
    out = ds[4]
    assert out['data_samples'].text == ref[4][1]
    assert tuple(out['inputs'].shape) == (3, 64, 64)
    assert ds.get_data_info(4)['img'].tobytes() == ref[4][0].tobytes()

    source = CLASS_TEXT_SOURCES.get('synthetic_world')
    world = SyntheticWorld()
    assert source() == world.seen_classes
    assert source(split='heldout') == world.heldout_classes
    assert source(split='all', world=dict(seed=3)) == world.classes('all')
