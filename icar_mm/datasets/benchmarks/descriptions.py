"""Class texts of a benchmark: CLIP's names, optionally with descriptions.

iCAR's enriched class text is ``"{name}, {description}"``. Descriptions:

* ``'wordnet'``: WordNet glosses from the files ``timm`` ships
  (``imagenet_synset_to_lemma.txt`` / ``..._definition.txt``, 21,841
  ImageNet-22K synsets): ImageNet-1K class ``i`` gets the gloss of its
  synset; other datasets look each class name up among the synsets' lemma
  names (first match in synset order). Names with no WordNet lemma keep
  the name alone (``on_missing='name'``) or raise (``'error'``).
* a JSON / TSV class-text file (see ``load_class_text_file``) with a
  description per class name (names, aliases or synset ids must match).
"""
import csv
import pkgutil
from typing import Dict, List, Optional, Sequence

from icar_mm.models.text.class_text_sources import (imagenet_class_texts,
                                                    load_class_text_file)


def _timm_rows(name: str) -> List[List[str]]:
    data = pkgutil.get_data('timm.data', f'_info/{name}')
    return list(csv.reader(data.decode('utf-8').splitlines(), delimiter='\t'))


_LEMMA_INDEX: Optional[Dict[str, str]] = None


def wordnet_gloss(name: str) -> Optional[str]:
    """The gloss of the first ImageNet-22K synset with lemma ``name``."""
    global _LEMMA_INDEX
    if _LEMMA_INDEX is None:
        glosses = dict(
            (r[0], r[1]) for r in _timm_rows(
                'imagenet_synset_to_definition.txt') if len(r) > 1)
        index: Dict[str, str] = {}
        for row in _timm_rows('imagenet_synset_to_lemma.txt'):
            if len(row) < 2 or not glosses.get(row[0], '').strip():
                continue
            for lemma in row[1].split(','):
                index.setdefault(_key(lemma), glosses[row[0]].strip())
        _LEMMA_INDEX = index
    return _LEMMA_INDEX.get(_key(name))


def _key(name: str) -> str:
    return ' '.join(name.lower().replace('_', ' ').replace('-', ' ').split())


def benchmark_class_texts(names: Sequence[str],
                          descriptions: Optional[str] = None,
                          imagenet: bool = False,
                          on_missing: str = 'name') -> List[dict]:
    """``dict(name, description, aliases)`` per class, in label order.

    Args:
        names (Sequence[str]): CLIP's class names, in label order.
        descriptions (str, optional): None (names only), ``'wordnet'`` or a
            class-text file path.
        imagenet (bool): Class ``i`` is ImageNet-1K synset ``i``.
        on_missing (str): ``'name'`` (keep the bare name) or ``'error'``.

    Returns:
        list[dict]: Entries with ``description`` ('' when none).
    """
    names = list(names)
    if descriptions is None:
        return [dict(name=n, description='', aliases=[]) for n in names]
    if descriptions == 'wordnet':
        if imagenet:
            wn = imagenet_class_texts('imagenet-1k')
            return [
                dict(name=n, description=w['description'],
                     aliases=[w['name']] + w['aliases'], synset=w['synset'])
                for n, w in zip(names, wn)
            ]
        texts, missing = [], []
        for n in names:
            gloss = wordnet_gloss(n)
            if gloss is None:
                missing.append(n)
            texts.append(dict(name=n, description=gloss or '', aliases=[]))
        if missing and on_missing == 'error':
            raise KeyError(f'{len(missing)} class names have no WordNet '
                           f'lemma: {missing[:10]}; give a class-text file.')
        return texts
    entries = load_class_text_file(descriptions)
    index = {}
    for e in entries:
        for k in [e['name'], *e['aliases'], e.get('synset')]:
            if k:
                index.setdefault(_key(str(k)), e)
    out, missing = [], []
    for n in names:
        e = index.get(_key(n))
        if e is None:
            missing.append(n)
        out.append(
            dict(name=n, description=(e or {}).get('description', ''),
                 aliases=[]))
    if missing and on_missing == 'error':
        raise KeyError(f'{descriptions}: no entry for {len(missing)} '
                       f'classes: {missing[:10]}')
    return out
