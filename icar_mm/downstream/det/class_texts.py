"""Class texts from the ``categories`` of a COCO / LVIS annotation file."""
import json
import os.path as osp
from typing import List, Optional, Sequence

from icar_mm.registry import CLASS_TEXT_SOURCES


@CLASS_TEXT_SOURCES.register_module(name='coco-categories')
def coco_category_texts(ann_file: str,
                        classes: Optional[Sequence[str]] = None,
                        frequency: Optional[Sequence[str]] = None
                        ) -> List[dict]:
    """Class texts of a COCO-format annotation file's categories.

    LVIS categories carry their WordNet definition in ``def`` and synonyms
    in ``synonyms`` (names use ``_``, e.g. ``"baseball_bat"``); those become
    the description and aliases. COCO categories have no ``def``: use
    ``use_descriptions=False`` or a class-text file for them.

    Args:
        ann_file (str): The annotation JSON.
        classes (Sequence[str], optional): Keep (and order by) these
            category names; every one must exist.
        frequency (Sequence[str], optional): Keep only LVIS categories of
            these frequency groups (``'r'``, ``'c'``, ``'f'``).

    Returns:
        list[dict]: ``name``, ``description``, ``aliases`` per category, in
        category-id order (or ``classes`` order).
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'Annotation file {ann_file!r} does not '
                                'exist (class-text source coco-categories).')
    with open(ann_file, encoding='utf-8') as f:
        cats = json.load(f).get('categories')
    if not cats:
        raise ValueError(f'{ann_file}: no "categories" list.')
    cats = sorted(cats, key=lambda c: c['id'])
    if frequency is not None:
        cats = [c for c in cats if c.get('frequency') in frequency]
    texts = {}
    for c in cats:
        name = c['name'].replace('_', ' ')
        synonyms = [s.replace('_', ' ') for s in c.get('synonyms', [])]
        texts[c['name']] = dict(
            name=name,
            description=c.get('def', '') or '',
            aliases=[s for s in synonyms if s != name],
            where=f'{ann_file} category {c["id"]}')
    if classes is None:
        return list(texts.values())
    missing = [n for n in classes if n not in texts]
    if missing:
        raise ValueError(f'{ann_file}: categories {missing[:10]} not found '
                         f'({len(missing)} missing).')
    return [texts[n] for n in classes]
