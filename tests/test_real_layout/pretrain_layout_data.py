"""Miniature copies of the data layouts of the pretraining, fine-tuning and
evaluation configs, and the runs of their tools on them.

Everything is written under a ``data/`` folder in the layouts the shipped
configs expect (their default roots are relative, ``data/...``, so a tool
run with that folder's parent as its working directory reads the
miniature through the config's own paths):

* ``write_imagenet22k``: ``imagenet21k/train/nXXXXXXXX/*.JPEG`` +
  ``imagenet21k/meta/train.txt`` (mmpretrain's ImageNet-21K annotation:
  ``nXXXXXXXX/file.JPEG <index among the 21,841 sorted synsets>``);
* ``write_imagenet1k``: mmpretrain's ImageNet-1K layout:
  ``imagenet/train/nXXXXXXXX/nXXXXXXXX_<i>.JPEG`` + ``meta/train.txt``
  (``nXXXXXXXX/file.JPEG <label>``) and the flat
  ``imagenet/val/ILSVRC2012_val_<8 digits>.JPEG`` + ``meta/val.txt``
  (``ILSVRC2012_val_00000001.JPEG <label>``);
* ``write_laion``: ``laion/images/00000/000000000.jpg`` (img2dataset's
  folder output) + ``laion/laion.csv`` (OpenCLIP's ``filepath,title``
  columns, paths relative to ``images/``), and the same pairs as
  webdataset shards ``laion/shards/000000.tar``... (``key.jpg`` +
  ``key.txt`` + ``key.json``);
* ``write_kornblith``: the official layouts of some of the Kornblith-12
  datasets (``tests/test_evaluation/test_benchmark_datasets.py``'s
  ``LAYOUTS``).

Images are rendered synthetic-world scenes, JPEG-encoded.
"""
import contextlib
import csv
import importlib.util
import os
import os.path as osp
import re
import sys
import time
from typing import Dict, List, Sequence

import cv2

from repo_paths import REPO_ROOT, load_tool
import wds_data_gen as gen

#: synsets of ImageNet-1K (hence of ImageNet-22K too), far apart
SYNSETS = ['n01440764', 'n02123045', 'n04254680']


def _world_images(num_per_class: int, num_classes: int,
                  image_size: int = 64) -> List[List[bytes]]:
    """``num_per_class`` JPEGs of ``num_classes`` distinct rendered
    classes."""
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    world = SyntheticWorld(seed=1, image_size=image_size)
    by_class: Dict[int, List[bytes]] = {}
    for img, label in world.classification_samples('seen', num_per_class,
                                                   seed=0):
        ok, buf = cv2.imencode('.jpg', img)
        assert ok
        by_class.setdefault(label, []).append(buf.tobytes())
    labels = sorted(by_class)
    return [by_class[labels[c % len(labels)]][:num_per_class]
            for c in range(num_classes)]


def _write(path: str, data) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
        f.write(data)


def _synset_index(subset: str) -> Dict[str, int]:
    from icar_mm.class_texts import load_class_text_source
    return {e['synset']: i for i, e in enumerate(
        load_class_text_source(dict(type=subset)))}


def write_imagenet22k(data: str, synsets: Sequence[str] = SYNSETS,
                      per_class: int = 2) -> str:
    """``data/imagenet21k``: class folders + ``meta/train.txt``."""
    root = osp.join(data, 'imagenet21k')
    index = _synset_index('imagenet-22k')
    lines = []
    for synset, jpegs in zip(synsets, _world_images(per_class,
                                                    len(synsets))):
        for i, jpeg in enumerate(jpegs):
            rel = f'{synset}/{synset}_{10026 + i}.JPEG'
            _write(osp.join(root, 'train', rel), jpeg)
            lines.append(f'{rel} {index[synset]}')
    _write(osp.join(root, 'meta', 'train.txt'), '\n'.join(lines) + '\n')
    return root


def write_imagenet1k(data: str, splits: Sequence[str] = ('val', ),
                     synsets: Sequence[str] = SYNSETS,
                     per_class: int = 2) -> str:
    """``data/imagenet``: mmpretrain's ``train/`` + ``val/`` + ``meta/``."""
    root = osp.join(data, 'imagenet')
    index = _synset_index('imagenet-1k')
    images = _world_images(per_class, len(synsets))
    for split in splits:
        lines, n = [], 0
        for synset, jpegs in zip(synsets, images):
            for i, jpeg in enumerate(jpegs):
                n += 1
                rel = (f'{synset}/{synset}_{10026 + i}.JPEG'
                       if split == 'train' else
                       f'ILSVRC2012_val_{n:08d}.JPEG')
                _write(osp.join(root, split, rel), jpeg)
                lines.append(f'{rel} {index[synset]}')
        _write(osp.join(root, 'meta', f'{split}.txt'),
               '\n'.join(lines) + '\n')
    return root


def write_laion(data: str, num: int = 8, per_shard: int = 4) -> Dict:
    """``data/laion``: ``images/`` + ``laion.csv``, and ``shards/*.tar``."""
    root = osp.join(data, 'laion')
    pairs = gen.make_pairs(num, image_size=64)
    with open(_mk(osp.join(root, 'laion.csv')), 'w', newline='',
              encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['filepath', 'title'])
        for k, p in enumerate(pairs):
            rel = f'{k // 10000:05d}/{k:09d}.jpg'
            _write(osp.join(root, 'images', rel), p['jpeg'])
            w.writerow([rel, p['caption']])
    info = gen.write_pairs(root, pairs, maxcount=per_shard,
                           formats=('wds', ))
    return dict(root=root, shards=info['shards'])


def _mk(path: str) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    return path


def _benchmark_layouts():
    path = osp.join(REPO_ROOT, 'tests', 'test_evaluation',
                    'test_benchmark_datasets.py')
    spec = importlib.util.spec_from_file_location(
        'real_layout_benchmark_layouts', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LAYOUTS


def write_kornblith(data: str, names: Sequence[str]) -> None:
    """The official layouts of the Kornblith-12 datasets ``names``."""
    from icar_mm.datasets.benchmarks import BENCHMARKS
    layouts = _benchmark_layouts()
    for name in names:
        spec = BENCHMARKS[name]
        layouts[name](spec.root(data))
        assert spec.is_present(data), name


# ----------------------------------------------------------------- tools
class ToolRun:
    """What a tool run left: its log (the work dir's log file) and time."""

    def __init__(self, log: str, seconds: float) -> None:
        self.log = log
        self.seconds = seconds


def _log_files(work_dir: str) -> set:
    if not osp.isdir(work_dir):
        return set()
    return {osp.join(work_dir, d, d + '.log') for d in os.listdir(work_dir)
            if osp.isfile(osp.join(work_dir, d, d + '.log'))}


def run_tool(tool: str, args: Sequence[str], cwd: str,
             work_dir: str) -> ToolRun:
    """``python tools/<tool> ARGS`` from ``cwd``, in this process.

    The script is imported (``load_tool``) and its ``main()`` runs with
    ``sys.argv`` set as on the command line: what a user's run does, less
    the ~10 s of imports a new interpreter pays on a busy 2-core machine.
    ``work_dir`` is the run's ``--work-dir``; the log of the run is the
    log file it wrote there.
    """
    module = load_tool(f'tools/{tool}')
    before = _log_files(work_dir)
    argv, environ = sys.argv, dict(os.environ)
    start = time.time()
    sys.argv = [osp.join(REPO_ROOT, 'tools', tool), *args]
    try:
        with contextlib.chdir(cwd):
            module.main()
    finally:  # the tools export LOCAL_RANK, as for a launcher
        sys.argv = argv
        os.environ.clear()
        os.environ.update(environ)
    seconds = time.time() - start
    new = sorted(_log_files(work_dir) - before)
    assert len(new) == 1, (before, new)
    with open(new[0], encoding='utf-8') as f:
        log = f.read()
    print(f'tools/{tool}: {seconds:.1f} s')
    return ToolRun(log, seconds)


def config_path(config: str) -> str:
    return osp.join(REPO_ROOT, config)


FLOAT = r'([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf)'


def logged_metrics(log: str, keys: Sequence[str]) -> Dict[str, float]:
    """The last logged value of each ``key: value`` in a tool's log."""
    out = {}
    for key in keys:
        values = re.findall(re.escape(key) + r': ' + FLOAT, log)
        assert values, f'{key} not in the log:\n{log[-3000:]}'
        out[key] = float(values[-1])
    return out
