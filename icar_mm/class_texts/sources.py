"""Where class names and descriptions come from.

Every source returns a list of ``dict(name=str, description=str,
aliases=list[str])``, in class-index order.

* ``imagenet-1k`` / ``imagenet-22k``: WordNet lemma names and glosses for
  the ImageNet synsets (:mod:`.wordnet`, from the files ``timm`` ships), so
  no download is needed.
* :func:`load_class_text_file`: a user file, JSON (a list of objects with
  ``name``, ``description`` and optional ``aliases``; or an object mapping
  name to description) or TSV (``name<TAB>description[<TAB>alias;alias]``,
  an optional header line ``name	description	aliases``).
* any function registered in ``CLASS_TEXT_SOURCES`` (the synthetic world's,
  an annotation file's categories, an action class list...).
"""
import csv
import json
import os.path as osp
from typing import Dict, List, Optional

from icar_mm.registry import CLASS_TEXT_SOURCES
from .wordnet import imagenet_synsets, synset_glosses, synset_lemmas

ClassText = Dict[str, object]


def imagenet_class_texts(subset: str = 'imagenet-1k',
                         synsets: Optional[List[str]] = None
                         ) -> List[ClassText]:
    """WordNet names and glosses of ImageNet classes.

    Args:
        subset (str): ``'imagenet-1k'`` (1,000 synsets) or ``'imagenet-22k'``
            (21,841 synsets), in the standard sorted order.
        synsets (list[str], optional): Explicit synset ids (``n01440764``)
            instead of a whole subset, e.g. the class folders of a dataset.

    Returns:
        list[dict]: ``name`` (first lemma), ``description`` (the gloss),
        ``aliases`` (other lemmas) and ``synset``.
    """
    if synsets is None:
        synsets = imagenet_synsets(subset)
    lemmas, glosses = synset_lemmas(), synset_glosses()
    texts = []
    for i, synset in enumerate(synsets):
        if not lemmas.get(synset) or not glosses.get(synset):
            raise KeyError(
                f'Class {i} (synset {synset!r}) has no WordNet lemma or gloss '
                "in timm's imagenet_synset_to_*.txt; give its description in "
                'a class-text file (ClassTextBank(file=...)).')
        names = lemmas[synset]
        texts.append(
            dict(
                name=names[0],
                description=glosses[synset],
                aliases=names[1:],
                synset=synset))
    return texts


@CLASS_TEXT_SOURCES.register_module(name='imagenet-1k')
def imagenet_1k_class_texts(**kwargs) -> List[ClassText]:
    """The 1,000 ImageNet-1K classes (see :func:`imagenet_class_texts`)."""
    return imagenet_class_texts('imagenet-1k', **kwargs)


@CLASS_TEXT_SOURCES.register_module(name='imagenet-22k')
def imagenet_22k_class_texts(**kwargs) -> List[ClassText]:
    """The 21,841 ImageNet-22K classes (see :func:`imagenet_class_texts`)."""
    return imagenet_class_texts('imagenet-22k', **kwargs)


def _entry(obj: dict, where: str) -> ClassText:
    if not isinstance(obj, dict) or not str(obj.get('name', '')).strip():
        raise ValueError(f'{where}: each class needs a non-empty "name"; '
                         f'got {obj!r}.')
    aliases = obj.get('aliases') or []
    if isinstance(aliases, str):
        aliases = [a.strip() for a in aliases.split(';') if a.strip()]
    return dict(
        obj,
        name=str(obj['name']).strip(),
        description=str(obj.get('description') or '').strip(),
        aliases=list(aliases),
        where=where)


def check_unique_classes(entries: List[ClassText], origin: str) -> None:
    """Refuse a class list that names a class twice.

    A class is its synset id when it has one (ImageNet has several synsets
    named "crane"), else its name, case-insensitively. Two entries of one
    class would give two labels the same class text.

    Args:
        entries (list[dict]): The classes.
        origin (str): Where they come from, for the message.
    """
    first: Dict[str, int] = {}
    repeated = []
    for i, entry in enumerate(entries):
        key = str(entry.get('synset') or entry['name']).strip().lower()
        if key in first:
            repeated.append(f'{entry.get("where", i)!s} repeats '
                            f'{entry["name"]!r} of '
                            f'{entries[first[key]].get("where", first[key])}')
        else:
            first[key] = i
    if repeated:
        raise ValueError(
            f'{len(repeated)} class(es) of {origin} appear twice: '
            f'{"; ".join(repeated[:5])}{" ..." if len(repeated) > 5 else ""}.'
            ' Each class must be listed once, in label order; remove the '
            'duplicate or give it its own name.')


def load_class_text_source(source: Dict) -> List[ClassText]:
    """Classes of a registered class-text source.

    Args:
        source (dict): ``dict(type=NAME, **kwargs)``, e.g.
            ``dict(type='imagenet-22k')``.

    Returns:
        list[dict]: One entry per class; ``where`` names the source and index
        (and synset) for error messages.
    """
    source = dict(source)
    name = source.pop('type')
    fn = CLASS_TEXT_SOURCES.get(name)
    if fn is None:
        raise KeyError(f'Unknown class-text source {name!r}; known: '
                       f'{sorted(CLASS_TEXT_SOURCES.module_dict)}.')
    entries = [dict(c) for c in fn(**source)]
    for i, entry in enumerate(entries):
        synset = f' ({entry["synset"]})' if entry.get('synset') else ''
        entry.setdefault('where', f'source {name!r} class {i}{synset}')
    return entries


def load_class_text_file(path: str) -> List[ClassText]:
    """Read a JSON or TSV class-text file (a class listed twice is an
    error).

    Args:
        path (str): ``.json`` or ``.tsv``/``.txt`` file.

    Returns:
        list[dict]: One entry per class, in file order; ``where`` is the
        file and line (TSV) or entry (JSON) for error messages.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Class-text file {path!r} does not exist.')
    if path.endswith('.json'):
        with open(path, encoding='utf-8') as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}: not valid JSON ({e}).') from e
        if isinstance(data, dict):
            texts = [
                _entry(dict(name=k, description=v), f'{path} key {k!r}')
                for k, v in data.items()
            ]
        else:
            texts = [_entry(obj, f'{path} entry {i}')
                     for i, obj in enumerate(data)]
        check_unique_classes(texts, f'file {path!r}')
        return texts
    texts = []
    with open(path, encoding='utf-8', newline='') as f:
        for line_no, row in enumerate(csv.reader(f, delimiter='\t'), 1):
            if not row or not ''.join(row).strip():
                continue
            if line_no == 1 and [c.strip().lower() for c in row[:2]] == [
                    'name', 'description'
            ]:
                continue
            texts.append(
                _entry(
                    dict(
                        name=row[0],
                        description=row[1] if len(row) > 1 else '',
                        aliases=row[2] if len(row) > 2 else ''),
                    f'{path} line {line_no}'))
    check_unique_classes(texts, f'file {path!r}')
    return texts
