"""WordNet names and glosses of the ImageNet synsets, from timm's files.

``timm`` ships, under ``timm/data/_info``, the 1K and 22K synset lists and
the WordNet lemma names and glosses of all 21,841 ImageNet-22K synsets
(``imagenet_synset_to_lemma.txt``, ``imagenet_synset_to_definition.txt``),
so descriptions need no download. This module is the one reader of those
files; each is parsed once per process.
"""
import csv
import pkgutil
from functools import lru_cache
from typing import Dict, List, Optional

#: synset list file of each ImageNet subset
SYNSET_LISTS = {
    'imagenet-1k': 'imagenet_synsets.txt',
    'imagenet-22k': 'imagenet22k_synsets.txt',
}


@lru_cache(maxsize=None)
def _info_rows(name: str) -> tuple:
    data = pkgutil.get_data('timm.data', f'_info/{name}')
    if data is None:
        raise FileNotFoundError(f'timm does not ship _info/{name}.')
    return tuple(
        tuple(row) for row in csv.reader(
            data.decode('utf-8').splitlines(), delimiter='\t'))


def imagenet_synsets(subset: str) -> List[str]:
    """The synset ids of an ImageNet subset, in the standard sorted order.

    Args:
        subset (str): ``'imagenet-1k'`` (1,000) or ``'imagenet-22k'``
            (21,841).

    Returns:
        list[str]: Synset ids such as ``'n01440764'``.
    """
    if subset not in SYNSET_LISTS:
        raise KeyError(f'Unknown ImageNet subset {subset!r}; choose from '
                       f'{sorted(SYNSET_LISTS)}.')
    return [r[0].strip() for r in _info_rows(SYNSET_LISTS[subset])
            if r and r[0].strip()]


@lru_cache(maxsize=None)
def synset_lemmas() -> Dict[str, List[str]]:
    """Synset id -> its WordNet lemma names (first = the usual name)."""
    return {
        r[0]: [n.strip() for n in r[1].split(',') if n.strip()]
        for r in _info_rows('imagenet_synset_to_lemma.txt') if len(r) > 1
    }


@lru_cache(maxsize=None)
def synset_glosses() -> Dict[str, str]:
    """Synset id -> its WordNet gloss ('' when timm has none)."""
    return {
        r[0]: r[1].strip()
        for r in _info_rows('imagenet_synset_to_definition.txt') if len(r) > 1
    }


def name_key(name: str) -> str:
    """How class names compare: lower case, ``_`` and ``-`` as spaces."""
    return ' '.join(name.lower().replace('_', ' ').replace('-', ' ').split())


@lru_cache(maxsize=None)
def _lemma_index() -> Dict[str, str]:
    glosses = synset_glosses()
    index: Dict[str, str] = {}
    for synset, lemmas in synset_lemmas().items():
        if not glosses.get(synset):
            continue
        for lemma in lemmas:
            index.setdefault(name_key(lemma), glosses[synset])
    return index


def gloss_of_name(name: str) -> Optional[str]:
    """The gloss of the first ImageNet-22K synset with lemma ``name``.

    Args:
        name (str): A class name, compared with :func:`name_key`.

    Returns:
        str | None: The gloss, or None when no synset has that lemma.
    """
    return _lemma_index().get(name_key(name))
