"""Class texts of a benchmark: CLIP's names, optionally with descriptions.

iCAR's enriched class text is ``"{name}, {description}"``. Descriptions:

* ``'wordnet'``: WordNet glosses of the 21,841 ImageNet-22K synsets
  (:mod:`.wordnet`): ImageNet-1K class ``i`` gets the gloss of its
  synset; other datasets look each class name up among the synsets' lemma
  names (first match in synset order). Names with no WordNet lemma keep
  the name alone (``on_missing='name'``) or raise (``'error'``).
* a JSON / TSV class-text file (see ``load_class_text_file``) with a
  description per class name (names, aliases or synset ids must match).
"""
from typing import List, Optional, Sequence

from .sources import imagenet_class_texts, load_class_text_file
from .wordnet import gloss_of_name, name_key


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
            gloss = gloss_of_name(n)
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
                index.setdefault(name_key(str(k)), e)
    out, missing = [], []
    for n in names:
        e = index.get(name_key(n))
        if e is None:
            missing.append(n)
        out.append(
            dict(name=n, description=(e or {}).get('description', ''),
                 aliases=[]))
    if missing and on_missing == 'error':
        raise KeyError(f'{descriptions}: no entry for {len(missing)} '
                       f'classes: {missing[:10]}')
    return out
