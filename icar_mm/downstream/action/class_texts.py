"""Class-text sources of action datasets."""
import os.path as osp
import re
from typing import Dict, List, Optional

from icar_mm.class_texts import load_class_text_source
from icar_mm.registry import CLASS_TEXT_SOURCES


@CLASS_TEXT_SOURCES.register_module(name='kinetics-400')
def kinetics400_class_texts() -> List[dict]:
    """The 400 Kinetics-400 class names, in label order (names only).

    torchvision ships the list (``torchvision.models._meta``), in the
    alphabetical order of mmaction2's ``label_map_k400.txt``. Use with
    ``use_descriptions=False`` or give descriptions through a file.

    Returns:
        list[dict]: ``dict(name, description='', aliases=[])`` per class.
    """
    from torchvision.models._meta import _KINETICS400_CATEGORIES
    return [
        dict(name=name, description='', aliases=[])
        for name in _KINETICS400_CATEGORIES
    ]


def _readable(name: str) -> str:
    """``ApplyEyeMakeup`` / ``brush_hair`` -> ``apply eye makeup`` /
    ``brush hair`` (the text encoder reads words)."""
    name = name.replace('_', ' ')
    if ' ' not in name:
        name = re.sub(r'(?<=[a-z])(?=[A-Z])', ' ', name)
    return ' '.join(name.split()).lower()


def _read_class_list(file: str, dataset: str) -> List[str]:
    if not osp.isfile(file):
        raise FileNotFoundError(
            f'{dataset} class list {file!r} does not exist. It is not '
            'shipped offline: write one class name per line in label order '
            '(UCF101: classInd.txt of the official split files; HMDB51: the '
            'sorted action folder names; Kinetics-600: the label map), then '
            'set `class_list_file` in the config or pass --cfg-options '
            f'model.cls_head.test_class_texts.source.file=PATH.')
    names = []
    with open(file, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)  # "1 ApplyEyeMakeup" (classInd)
            names.append(parts[1] if len(parts) == 2 and parts[0].isdigit()
                         else line)
    if not names:
        raise ValueError(f'{dataset} class list {file!r} is empty.')
    return names


@CLASS_TEXT_SOURCES.register_module(name='action-class-list')
def action_class_list_texts(file: str,
                            dataset: str = 'action',
                            exclude_source: Optional[Dict] = None,
                            readable: bool = True) -> List[dict]:
    """Class texts from a user's class list file (one name per line).

    Zero-shot transfer to UCF101, HMDB51 or the Kinetics-600 classes that
    are not in Kinetics-400 needs their class names, which no offline
    package ships. ``"1 ApplyEyeMakeup"`` lines (UCF101's ``classInd.txt``)
    are read as the name after the index.

    Args:
        file (str): The class list.
        dataset (str): Dataset name for error messages.
        exclude_source (dict, optional): Drop the classes of this source
            (e.g. ``dict(type='kinetics-400')`` for Kinetics-600 novel
            classes); names compare case- and separator-insensitively.
        readable (bool): Turn ``CamelCase`` / ``snake_case`` names into
            lower-case words; the original name is kept as an alias.

    Returns:
        list[dict]: ``dict(name, description='', aliases)`` per class.
    """
    names = _read_class_list(file, dataset)
    if exclude_source is not None:
        drop = {_readable(c['name']) for c in
                load_class_text_source(exclude_source)}
        names = [n for n in names if _readable(n) not in drop]
    return [
        dict(name=_readable(n) if readable else n, description='',
             aliases=[n] if readable and _readable(n) != n else [])
        for n in names
    ]
