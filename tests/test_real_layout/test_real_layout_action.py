"""The shipped Video Swin-B action configs, run end to end on a miniature
copy of their datasets' official layouts.

Kinetics-400 (``data/kinetics400/videos_{train,val}/<youtube id>_<start>_
<end>.mp4`` + ``kinetics400_{train,val}_list_videos.txt``): the config
loaded, only sizes overridden, written to a file and run as a user runs it:
``tools/train.py`` for one epoch, ``tools/train.py --resume`` to the second
(validation after each), ``tools/test.py`` on the last checkpoint
(``AccMetric``). The three zero-shot configs are test-only: ``tools/test.py
CFG <that K400 checkpoint>`` on UCF101 (``videos/<Class>/v_<Class>_g01_c01
.avi``, ``annotations/classInd.txt`` + split lists, mmaction2's
``ucf101_val_split_1_videos.txt``), HMDB51 (``videos/<class>/*.avi``, the
official ``testTrainMulti_7030_splits``, ``hmdb51_classes.txt`` = the sorted
class folders) and the Kinetics-600 novel classes (``label_map_k600.txt``
with Kinetics-400 names among the new ones; the list holds novel videos,
labelled in label-map order), each with the head's class list swapped.

Sizes overridden: a 16-channel Video Swin with one block per stage (the
config's patch (2, 4, 4) and window (8, 7, 7)), a 32-d joint space, 4-frame
clips of 32x32 crops (frame interval, clip counts and crop types as
configured), 2 clips per batch, ``num_workers=0``, 2 epochs with validation
and a checkpoint after each, the tiny random text tower instead of
RoBERTa-base. The data paths stay the config's own, relative ones: the
tools run in a temporary directory that holds ``data/``.

Substitutions (this host cannot run the configs as written):

* decord has no wheel here: ``DecordInit`` / ``DecordDecode`` become
  mmaction2's ``OpenCVInit`` / ``OpenCVDecode``, which read the same video
  files (written with ``cv2.VideoWriter``) with the same frame indices.
* the config's ``AmpOptimWrapper`` needs CUDA: ``tools/train.py`` itself
  swaps in CPU bfloat16 autocast (``CPUBF16AmpOptimWrapper``, with a
  warning); the test leaves that to the tool and checks it happened.
"""
import copy
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from downstream_layouts import (TINY_TEXT_ENCODER, assert_finite_metrics,
                                checkpoint_meta, config_id, config_path,
                                retype_transforms, run_test,
                                train_resume_test, update_transform)

pytest.importorskip('mmaction')

pytestmark = [pytest.mark.real_layout,
              pytest.mark.usefixtures('single_thread')]

ACT = 'configs/downstream/action/icar_video-swin-b-p244-w877_'
K400 = ACT + '8xb8-32x2x1-30e_kinetics400-rgb.py'
UCF101 = ACT + 'zero-shot_ucf101-rgb.py'
HMDB51 = ACT + 'zero-shot_hmdb51-rgb.py'
K600 = ACT + 'zero-shot_kinetics600-novel-rgb.py'
FRAMES, SIZE = 16, (40, 48)  # frames per video, (height, width)
CROP = 32
#: Kinetics-400 classes of the miniature (label = index in the 400)
K400_CLASSES = ('abseiling', 'air drumming', 'archery', 'arm wrestling')
#: Kinetics-600 classes that are not in Kinetics-400 (real ones)
K600_NOVEL = ('acting in play', 'adjusting glasses', 'alligator wrestling')


def write_video(path: str, seed: int, fourcc: str = 'mp4v') -> None:
    """A short moving-square video (the real files' containers: mp4 for
    Kinetics, avi for UCF101 / HMDB51)."""
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    h, w = SIZE
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 25,
                             (w, h))
    assert writer.isOpened(), path
    rng = np.random.default_rng(seed)
    colour = [int(c) for c in rng.integers(60, 255, 3)]
    for t in range(FRAMES):
        frame = np.full((h, w, 3), 20, np.uint8)
        x = (2 * t + 3 * seed) % (w - 12)
        frame[10:22, x:x + 12] = colour
        writer.write(frame)
    writer.release()


def write_lines(path: str, lines) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def kinetics400_layout(root='data/kinetics400') -> None:
    """mmaction2's Kinetics-400 layout: ``videos_{train,val}/<youtube id>
    _<start>_<end>.mp4`` and ``kinetics400_{train,val}_list_videos.txt``
    (``file label`` lines, the label an index in the 400 classes)."""
    from icar_mm.downstream.action.class_texts import \
        kinetics400_class_texts
    names = [c['name'] for c in kinetics400_class_texts()]
    labels = [names.index(n) for n in K400_CLASSES]
    for split, n in (('train', 4), ('val', 2)):
        lines = []
        for i in range(n):
            name = f'{split}Vid{i:04d}_{10 * i:06d}_{10 * i + 10:06d}.mp4'
            write_video(osp.join(root, f'videos_{split}', name), i)
            lines.append(f'{name} {labels[i % len(labels)]}')
        write_lines(osp.join(root, f'kinetics400_{split}_list_videos.txt'),
                    lines)


def ucf101_layout(root='data/ucf101') -> int:
    """UCF101: ``videos/<Class>/v_<Class>_gXX_cYY.avi``, the official
    ``annotations/{classInd,trainlist01,testlist01}.txt`` and mmaction2's
    ``ucf101_val_split_1_videos.txt`` (0-based labels in classInd order).
    Returns the number of classes."""
    classes = ['ApplyEyeMakeup', 'ApplyLipstick', 'Archery']
    write_lines(osp.join(root, 'annotations', 'classInd.txt'),
                [f'{i + 1} {c}' for i, c in enumerate(classes)])
    train, test, val = [], [], []
    for i, c in enumerate(classes):
        for group, dest in ((8, train), (1, test)):
            rel = f'{c}/v_{c}_g{group:02d}_c01.avi'
            write_video(osp.join(root, 'videos', rel), 10 + i, 'XVID')
            dest.append(f'{rel} {i + 1}' if dest is train else rel)
            if group == 1:
                val.append(f'{rel} {i}')
    write_lines(osp.join(root, 'annotations', 'trainlist01.txt'), train)
    write_lines(osp.join(root, 'annotations', 'testlist01.txt'), test)
    write_lines(osp.join(root, 'ucf101_val_split_1_videos.txt'), val)
    return len(classes)


def hmdb51_layout(root='data/hmdb51') -> int:
    """HMDB51: ``videos/<class>/<clip>.avi``, the official
    ``annotations/testTrainMulti_7030_splits/<class>_test_split1.txt``
    (1: train, 2: test), mmaction2's ``hmdb51_val_split_1_videos.txt``
    and the config's ``hmdb51_classes.txt``: the sorted class folders."""
    classes = ['brush_hair', 'cartwheel', 'catch']
    for i, c in enumerate(classes):
        lines = []
        for j, tag in enumerate((1, 2)):
            clip = f'April_09_{c}_u_nm_np1_ba_goo_{j}.avi'
            write_video(osp.join(root, 'videos', c, clip), 20 + i, 'XVID')
            lines.append(f'{clip} {tag}')
        write_lines(osp.join(root, 'annotations', 'testTrainMulti_7030_'
                             f'splits/{c}_test_split1.txt'), lines)
    # as a user makes them from the official files
    names = sorted(os.listdir(osp.join(root, 'videos')))
    write_lines(osp.join(root, 'hmdb51_classes.txt'), names)
    val = []
    for label, c in enumerate(names):
        split = osp.join(root, 'annotations', 'testTrainMulti_7030_splits',
                         f'{c}_test_split1.txt')
        with open(split) as f:
            val += [f'{c}/{clip} {label}' for clip, tag in
                    (line.split() for line in f) if tag == '2']
    write_lines(osp.join(root, 'hmdb51_val_split_1_videos.txt'), val)
    return len(names)


def kinetics600_novel_layout(root='data/kinetics600') -> int:
    """Kinetics-600: ``label_map_k600.txt`` (one name per line, sorted,
    Kinetics-400 classes among the new ones), ``videos_val/*.mp4`` and the
    novel-class list ``kinetics600_novel_val_list_videos.txt`` (labels: the
    index among the novel classes, in label-map order)."""
    label_map = sorted(K400_CLASSES + K600_NOVEL)
    write_lines(osp.join(root, 'label_map_k600.txt'), label_map)
    novel = [n for n in label_map if n in K600_NOVEL]
    lines = []
    for label, name in enumerate(novel):
        clip = f'novelVid{label:04d}_000000_000010.mp4'
        write_video(osp.join(root, 'videos_val', clip), 30 + label)
        lines.append(f'{clip} {label}')
    write_lines(osp.join(root, 'kinetics600_novel_val_list_videos.txt'),
                lines)
    return len(novel)


def shrink_recognizer(cfg: Config) -> None:
    """Sizes only (see the module docstring), plus the OpenCV decoders for
    decord (not installable here)."""
    m = cfg.model
    m.backbone.arch = dict(embed_dims=16, depths=[1, 1, 1, 1],
                           num_heads=[1, 2, 4, 8])
    head = m.cls_head
    head.in_channels = 16 * 8
    head.text_classifier.embed_dim = 32
    # assigned, not merged: nothing of RoBERTa stays
    head.text_classifier.text_encoder = copy.deepcopy(TINY_TEXT_ENCODER)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(num_workers=0, persistent_workers=False,
                      batch_size=2 if name == 'train_dataloader' else 1)
        pipeline = retype_transforms(loader.dataset.pipeline,
                                     DecordInit='OpenCVInit',
                                     DecordDecode='OpenCVDecode')
        update_transform(pipeline, 'SampleFrames', clip_len=4)
        for t in pipeline:
            if t['type'] == 'Resize' and t['scale'][0] == -1:
                t['scale'] = (-1, 40 if name != 'test_dataloader' else CROP)
            elif t['type'] == 'Resize':
                t['scale'] = (CROP, CROP)
            elif t['type'] in ('CenterCrop', 'ThreeCrop'):
                t['crop_size'] = CROP
        loader.dataset.pipeline = pipeline
    cfg.train_cfg.update(max_epochs=2, val_interval=1)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1


def write_config(config: str) -> str:
    cfg = Config.fromfile(config_path(config))
    shrink_recognizer(cfg)
    path = osp.basename(config)
    cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def k400_run(tmp_path_factory, single_thread):
    """The Kinetics-400 config trained (1 epoch), resumed (to 2) and tested
    in a directory of its own; the zero-shot tests start from its
    checkpoint."""
    root = tmp_path_factory.mktemp('k400')
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        kinetics400_layout()
        cfg_file = write_config(K400)
        metrics, ckpt = train_resume_test(mp, cfg_file, 'work', 'epoch', 1,
                                          2)
    return dict(root=root, metrics=metrics, ckpt=str(root / ckpt))


ZERO_SHOT = {UCF101: ucf101_layout, HMDB51: hmdb51_layout,
             K600: kinetics600_novel_layout}


@pytest.mark.parametrize('config', [K400, *ZERO_SHOT], ids=config_id)
def test_action_config_on_real_layout_with_opencv_decoding(
        config, k400_run, tmp_path, monkeypatch):
    """K400: trained, resumed, tested (the fixture). Zero-shot configs:
    tools/test.py with the K400 checkpoint, the class list swapped to the
    dataset's (top-5 of <= 5 classes is then 1 by construction: the label
    set is the small one, not Kinetics-400's).

    Videos decoded by OpenCVInit / OpenCVDecode instead of the configs'
    decord transforms: decord has no wheel on this host."""
    keys = ['acc/top1', 'acc/top5', 'acc/mean1']
    if config == K400:
        assert_finite_metrics(k400_run['metrics'], keys)
        meta = checkpoint_meta(k400_run['ckpt'])
        assert meta['epoch'] == 2
        first_log = sorted((k400_run['root'] / 'work').glob('*/*.log'))[0]
        # the tool's CPU AMP swap, in the config the run logged
        assert 'CPUBF16AmpOptimWrapper' in first_log.read_text()
        return
    monkeypatch.chdir(tmp_path)  # where data/ is, as in the repository
    num_classes = ZERO_SHOT[config]()
    cfg_file = write_config(config)
    metrics = run_test(monkeypatch, cfg_file, k400_run['ckpt'], 'work')
    values = assert_finite_metrics(metrics, keys)
    assert num_classes <= 5 and values['acc/top5'] == 1.0
