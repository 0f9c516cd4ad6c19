"""Image-label datasets whose classes carry names and descriptions.

The class list of an iCAR image-label dataset is the list of its class
texts (iCAR's adaptation A3), so each dataset here is tied to a class-text
origin -- the same ones :class:`~icar_mm.class_texts.ClassTextBank` reads:

* ``class_texts=dict(source=dict(type='imagenet-22k'))`` -- the 21,841
  ImageNet-22K synsets with WordNet lemma names and glosses (timm's bundled
  files); ``'imagenet-1k'`` likewise;
* ``class_texts=dict(file='classes.tsv')`` -- a user class-text file (JSON
  or TSV: name, description, optional aliases).

Images are listed by an annotation file (mmpretrain's ``path label`` lines;
the label is the class index or a class key: synset id, name or alias) or
found in class folders (``data_prefix/<class>/.../*.jpg``, the folder named
by a class key). Every mismatch -- a folder or label that is not a class, a
class without a description -- is reported with its file and line.

:class:`ImageNetDescribed` is the ImageNet preset (mmpretrain's layout:
``train/``, ``val/``, ``meta/{split}.txt``).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine import fileio
from mmpretrain.datasets import BaseDataset

from icar_mm.class_texts import (check_unique_classes, load_class_text_file,
                                 load_class_text_source)
from icar_mm.registry import DATASETS
from .data_health import SkipBadSamplesMixin

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def scan_class_folders(
        root: str,
        extensions: Sequence[str] = IMG_EXTENSIONS) -> Dict[str, List[str]]:
    """The images of each class folder under ``root``.

    Args:
        root (str): A folder of class folders (files directly under it are
            ignored).
        extensions (Sequence[str]): Lower-case image file extensions.

    Returns:
        dict: ``folder -> [image path relative to root, '/'-separated]``,
        folders and files sorted, sub-folders included.
    """
    extensions = tuple(extensions)
    classes = {}
    for folder in sorted(os.listdir(root)):
        path = osp.join(root, folder)
        if not osp.isdir(path):
            continue
        files = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            rel = osp.relpath(dirpath, root)
            files.extend(
                osp.join(rel, f).replace(os.sep, '/')
                for f in sorted(filenames)
                if f.lower().endswith(extensions))
        classes[folder] = files
    return classes


def load_class_texts(class_texts: Dict) -> Tuple[List[dict], List[str],
                                                   str]:
    """Classes, their locations and the origin of a ``class_texts`` config.

    Args:
        class_texts (dict): ``dict(file=PATH)`` or ``dict(source=dict(
            type=NAME, **kwargs))`` (a registered class-text source).

    Returns:
        tuple: class entries (``name``, ``description``, ``aliases``, maybe
        ``synset``), one location string per class, the origin.
    """
    class_texts = dict(class_texts)
    unknown = set(class_texts) - {'file', 'source'}
    if unknown or len(class_texts) != 1:
        raise ValueError('class_texts must be dict(file=PATH) or '
                         'dict(source=dict(type=NAME)); got '
                         f'{class_texts!r}.')
    if 'file' in class_texts:
        entries = load_class_text_file(class_texts['file'])
        origin = f'file {class_texts["file"]!r}'
    else:
        entries = load_class_text_source(class_texts['source'])
        origin = f'source {class_texts["source"]["type"]!r}'
    check_unique_classes(entries, origin)
    return entries, [e['where'] for e in entries], origin


class _ClassIndex:
    """Look classes up by synset id, name or alias (case-insensitive)."""

    def __init__(self, entries: Sequence[dict]) -> None:
        self.keys: Dict[str, int] = {}
        self.ambiguous: Dict[str, List[int]] = {}
        # priority: synset ids, then names, then aliases
        for field in ('synset', 'name', 'aliases'):
            seen: Dict[str, List[int]] = {}
            for i, c in enumerate(entries):
                values = c.get(field) or []
                if isinstance(values, str):
                    values = [values]
                for v in values:
                    seen.setdefault(str(v).strip().lower(), []).append(i)
            for key, idx in seen.items():
                if key in self.keys or key in self.ambiguous:
                    continue
                if len(set(idx)) == 1:
                    self.keys[key] = idx[0]
                else:
                    self.ambiguous[key] = sorted(set(idx))

    def lookup(self, key: str) -> Tuple[Optional[int], str]:
        """``(index, '')`` or ``(None, why)``."""
        k = key.strip().lower()
        if k in self.keys:
            return self.keys[k], ''
        if k in self.ambiguous:
            return None, (f'{key!r} names several classes '
                          f'{self.ambiguous[k][:5]}; use the class index or '
                          'the synset id')
        return None, f'{key!r} is not a class (name, alias or synset)'


@DATASETS.register_module()
class LabelledImageDataset(SkipBadSamplesMixin, BaseDataset):
    """Image classification data joined to class names and descriptions.

    ``metainfo['classes']`` are the class keys (the synset ids of ImageNet,
    else the names), in label order, so a ``ClassTextBank`` of the same
    origin matches them (the training loop checks this);
    ``metainfo['class_texts']`` are the class entries themselves.

    Args:
        class_texts (dict): ``dict(file=PATH)`` (JSON or TSV class-text
            file) or ``dict(source=dict(type='imagenet-22k'))``.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): Image folder (the class folders when
            there is no ``ann_file``).
        ann_file (str): ``path label`` lines (label: class index, synset id,
            name or alias) or ``path`` lines whose first folder is the class.
            Empty: scan the class folders under ``data_prefix``.
        extensions (Sequence[str]): Image file extensions of the folder
            scan.
        require_descriptions (bool): Every class must have a description
            (iCAR's class texts). Defaults to True.
        on_mismatch (str): ``'raise'`` (default): an annotation line or
            folder that names no class stops the build, listing every
            mismatch with file and line; ``'skip'``: such images are left
            out and counted as skipped in the training log. Labels that
            contradict the class list always stop the build, whatever this
            says: a numeric label outside it, or one whose image's class
            folder names another class (the class texts are not in the
            labels' order). A folder whose images carry several labels is a
            container (``train/``), not a class folder.
        skip_bad_samples (bool): Skip and count unreadable images instead of
            failing (see :class:`SkipBadSamplesMixin`). Defaults to True.
        source_name (str, optional): Name of the source in the logs.
            Defaults to the data root's folder name.
        max_consecutive_bad (int): Bad samples in a row that mean a broken
            config. Defaults to 100.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments
            (``pipeline``, ``test_mode``, ``lazy_init``, ``indices``...).
    """

    def __init__(self,
                 class_texts: Dict,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 ann_file: str = '',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 require_descriptions: bool = True,
                 on_mismatch: str = 'raise',
                 skip_bad_samples: bool = True,
                 source_name: Optional[str] = None,
                 max_consecutive_bad: int = 100,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if on_mismatch not in ('raise', 'skip'):
            raise ValueError(f"on_mismatch must be 'raise' or 'skip', got "
                             f'{on_mismatch!r}.')
        if 'classes' in kwargs or 'classes' in (metainfo or {}):
            raise ValueError(f'{type(self).__name__}: the classes come from '
                             '`class_texts`; do not pass `classes`.')
        self.extensions = tuple(e.lower() for e in extensions)
        self.on_mismatch = on_mismatch
        self._init_skip(
            skip_bad_samples, source_name or osp.basename(
                osp.normpath(data_root)) or type(self).__name__,
            max_consecutive_bad)
        entries, where, origin = load_class_texts(class_texts)
        if not entries:
            raise ValueError(f'{type(self).__name__}: no classes in '
                             f'{origin}.')
        if require_descriptions:
            missing = [
                f'{where[i]}: {c["name"]!r}' for i, c in enumerate(entries)
                if not str(c.get('description') or '').strip()
            ]
            if missing:
                raise ValueError(
                    f'{type(self).__name__}: {len(missing)} class(es) of '
                    f'{origin} have no description: '
                    f'{"; ".join(missing[:10])}'
                    f'{" ..." if len(missing) > 10 else ""}. Add the '
                    'descriptions, or set require_descriptions=False (and '
                    'use_descriptions=False in the class texts).')
        self.class_origin = origin
        self._entries = entries
        self._index = _ClassIndex(entries)
        keys = [str(c.get('synset') or c['name']) for c in entries]
        meta = dict(metainfo or {})
        meta.update(classes=keys, class_texts=entries)
        super().__init__(
            ann_file=ann_file,
            metainfo=meta,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    # ------------------------------------------------------------ loading
    def _mismatch(self, problems: List[str], where: str, why: str) -> None:
        problems.append(f'{where}: {why}')
        if self.on_mismatch == 'skip':
            self.load_skipped.append(
                (self.source_name, 'unknown_class', where, why))

    def _order_errors(self, errors: List[str]) -> None:
        if errors:
            raise ValueError(
                f'{type(self).__name__}: the labels of {self.ann_file} do not '
                f'follow the class list of {self.class_origin} '
                f'({len(errors)} line(s)): ' + '; '.join(errors[:5]) +
                (' ...' if len(errors) > 5 else '') + '. The class texts '
                'must list the dataset\'s classes once each, in label order '
                '(or label the images by class name / synset id instead of '
                'index); skipping such lines would train mislabelled images.')

    def _label(self, token: str) -> Tuple[Optional[int], str, bool]:
        """``(label, why, order_error)`` of an annotation line's label."""
        if not token.lstrip('-').isdigit():
            return self._index.lookup(token) + (False, )
        label = int(token)
        if not 0 <= label < len(self._entries):
            return None, (f'label {label} is outside the class list '
                          f'(0..{len(self._entries) - 1}, '
                          f'{self.class_origin})'), True
        return label, '', False

    def _folder_contradictions(
            self, indexed: List[Tuple[int, str, int]]) -> List[str]:
        """Lines labelled by index whose class folder names another class.

        A folder counts as a class folder only when all its lines carry one
        label: a folder holding several labels (``train/``, ``images/``) is
        a container, even if a class happens to share its name.

        Args:
            indexed (list): ``(line number, path, label)`` of the lines
                labelled by index.

        Returns:
            list: One message per contradicting line.
        """
        parents = [p.replace('\\', '/').rpartition('/')[0]
                   for _, p, _ in indexed]
        labels_in: Dict[str, set] = {}
        for parent, (_, _, label) in zip(parents, indexed):
            labels_in.setdefault(parent, set()).add(label)
        errors = []
        for parent, (line_no, path, label) in zip(parents, indexed):
            if not parent or len(labels_in[parent]) != 1:
                continue
            name = parent.rpartition('/')[2]
            named = self._index.lookup(name)[0]
            if named is not None and named != label:
                errors.append(
                    f'line {line_no} ({path}): label {label} is '
                    f'{self._entries[label]["name"]!r} but the image\'s '
                    f'folder {name!r} is class {named} '
                    f'({self._entries[named]["name"]!r})')
        return errors

    def _load_ann_file(self, prefix: str,
                       problems: List[str]) -> List[dict]:
        data_list, order_errors, indexed = [], [], []
        text = fileio.get_text(self.ann_file, encoding='utf-8')
        for line_no, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(' ', 1)
            if len(parts) == 2 and not parts[1].lower().endswith(
                    self.extensions):
                path, token = parts
            else:  # a path only: a folder of it names the class
                path, token = line, None
            if token is None:
                folders = path.replace('\\', '/').split('/')[:-1]
                hits = [self._index.lookup(f)[0] for f in folders]
                hits = [h for h in hits if h is not None]
                label, why = (hits[0], '') if hits else (
                    None, f'no folder of {path!r} names a class (and the '
                    'line has no label)')
            else:
                label, why, order_error = self._label(token)
                if order_error:
                    order_errors.append(f'line {line_no} ({path}): {why}')
                    continue
                if token.lstrip('-').isdigit():
                    indexed.append((line_no, path, label))
            if label is None:
                self._mismatch(problems, f'{self.ann_file} line {line_no}',
                               why)
                continue
            data_list.append(
                dict(
                    img_path=fileio.join_path(prefix, path)
                    if prefix else path,
                    gt_label=label))
        self._order_errors(order_errors + self._folder_contradictions(indexed))
        return data_list

    def _scan_folders(self, root: str, problems: List[str]) -> List[dict]:
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'{type(self).__name__}: image folder {root!r} does not '
                'exist and no `ann_file` is set. Set data_root / '
                'data_prefix to the folder of class folders, or give an '
                'annotation file (tools/dataset_converters/'
                'imagenet_folder_to_ann.py writes one).')
        data_list = []
        for folder, files in scan_class_folders(root,
                                                self.extensions).items():
            label, why = self._index.lookup(folder)
            if label is None:
                self._mismatch(problems, f'folder {osp.join(root, folder)}',
                               why)
                continue
            data_list.extend(
                dict(img_path=osp.join(root, f), gt_label=label)
                for f in files)
        return data_list

    def load_data_list(self) -> List[dict]:
        """``dict(img_path, gt_label)`` of every image."""
        prefix = self.data_prefix.get('img_path', '') or ''
        problems: List[str] = []
        if self.ann_file:
            if not fileio.exists(self.ann_file):
                raise FileNotFoundError(
                    f'{type(self).__name__}: annotation file '
                    f'{self.ann_file!r} not found.')
            data_list = self._load_ann_file(prefix, problems)
        else:
            data_list = self._scan_folders(prefix or self.data_root,
                                           problems)
        if problems and self.on_mismatch == 'raise':
            raise ValueError(
                f'{type(self).__name__}: {len(problems)} image(s) do not '
                f'match the classes of {self.class_origin}: '
                + '; '.join(problems[:10]) +
                (' ...' if len(problems) > 10 else '') +
                ". Fix them, or set on_mismatch='skip' to leave them out.")
        if not data_list:
            raise ValueError(f'{type(self).__name__}: no images found '
                             f'(ann_file={self.ann_file!r}, '
                             f'data_prefix={prefix!r}).')
        return data_list

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Classes: \t{len(self._entries)} from {self.class_origin}'
        ]


@DATASETS.register_module()
class ImageNetDescribed(LabelledImageDataset):
    """ImageNet-1K / ImageNet-22K with WordNet names and glosses.

    mmpretrain's layouts: ``data_root/meta/{split}.txt`` (``path label``,
    label = index in the sorted synset list, as mmpretrain's ImageNet21k
    annotation files) with images under ``data_root/{split}/``, or -- when
    the annotation file does not exist -- the class folders
    ``data_root/{split}/n01440764/...``.

    Args:
        subset (str): ``'imagenet-22k'`` (21,841 classes) or
            ``'imagenet-1k'`` (1,000). Defaults to ``'imagenet-22k'``.
        split (str): ``'train'``, ``'val'``... picks ``data_prefix`` and
            ``ann_file`` when they are not given. Defaults to ``''``.
        **kwargs: :class:`LabelledImageDataset` arguments.
    """

    def __init__(self,
                 subset: str = 'imagenet-22k',
                 split: str = '',
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 ann_file: str = '',
                 **kwargs) -> None:
        if subset not in ('imagenet-1k', 'imagenet-22k'):
            raise ValueError("subset must be 'imagenet-1k' or "
                             f"'imagenet-22k', got {subset!r}.")
        if split:
            if not data_prefix:
                data_prefix = split
            if not ann_file and fileio.exists(
                    fileio.join_path(data_root, 'meta', f'{split}.txt')):
                ann_file = fileio.join_path('meta', f'{split}.txt')
        kwargs.setdefault('source_name', subset)
        super().__init__(
            class_texts=dict(source=dict(type=subset)),
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file=ann_file,
            **kwargs)
