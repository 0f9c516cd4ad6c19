"""Class-text sources of action datasets available offline."""
from typing import List

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
