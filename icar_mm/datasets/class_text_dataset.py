"""Any classification dataset as an iCAR image-label stream.

iCAR's class weights come from class texts, so an image-label dataset must
say, for each of its labels, which class text it is. mmpretrain's datasets
(``CUB``, ``CIFAR100``, ``Places205``, ``CustomDataset`` folders, the
Kornblith-12 readers of :mod:`icar_mm.datasets.benchmarks`...) know their
class *names* (``metainfo['classes']``); :class:`ClassTextDataset` wraps any
of them, as mmengine's ``ClassBalancedDataset`` wraps a dataset, and joins
each name to a class text by name::

    cub_train = dict(type='CUB', data_root='data/CUB_200_2011',
                     split='train', pipeline=train_pipeline)
    cls_dataset = dict(type='ClassTextDataset', dataset=cub_train,
                       class_texts=dict(file='data/cub_class_texts.tsv'))

Names compare as :func:`icar_mm.class_texts.name_key` compares them (case,
``_`` and ``-`` ignored) against each class text's name, aliases and synset
id. Every dataset class must match exactly one class text; the dataset's
label order decides the order, never the file's. Samples and labels are the
wrapped dataset's, unchanged.

The model's text classifier must score the same classes in the same order
(the two-stream train loop checks it). The class-text source
``'dataset_classes'`` gives it exactly the wrapper's class list from the
same config::

    model = dict(cls_head=dict(classifier=dict(class_texts=dict(
        source=dict(cls_dataset, type='dataset_classes'),
        templates='imagenet'))))
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset

from icar_mm.class_texts import (benchmark_class_texts, check_unique_classes,
                                 load_class_text_file, load_class_text_source,
                                 name_key)
from icar_mm.registry import CLASS_TEXT_SOURCES, DATASETS

#: the keys of ``class_texts``: exactly one of them
CLASS_TEXT_ORIGINS = ('source', 'file', 'descriptions')


def _origin_of(class_texts: Dict) -> Tuple[str, object]:
    if not isinstance(class_texts, dict):
        raise TypeError('class_texts must be a dict: dict(source=dict('
                        "type=NAME)), dict(file=PATH) or dict(descriptions="
                        f"'wordnet' | None); got {class_texts!r}.")
    keys = [k for k in CLASS_TEXT_ORIGINS if k in class_texts]
    unknown = sorted(set(class_texts) - set(CLASS_TEXT_ORIGINS))
    if len(keys) != 1 or unknown:
        raise ValueError('class_texts must have exactly one of "source", '
                         '"file" or "descriptions" (dict(source=dict(type='
                         "NAME)), dict(file=PATH), dict(descriptions="
                         f"'wordnet' | None)); got {dict(class_texts)!r}.")
    return keys[0], class_texts[keys[0]]


class _KeyIndex:
    """Class texts by :func:`name_key` of their synset id, name or aliases
    (that priority: a synset id never loses to another class's alias)."""

    def __init__(self, entries: Sequence[dict]) -> None:
        self.keys: Dict[str, int] = {}
        self.ambiguous: Dict[str, List[int]] = {}
        for field in ('synset', 'name', 'aliases'):
            seen: Dict[str, List[int]] = {}
            for i, entry in enumerate(entries):
                values = entry.get(field) or []
                if isinstance(values, str):
                    values = [values]
                for value in values:
                    seen.setdefault(name_key(str(value)), []).append(i)
            for key, hits in seen.items():
                if key in self.keys or key in self.ambiguous:
                    continue
                hits = sorted(set(hits))
                if len(hits) == 1:
                    self.keys[key] = hits[0]
                else:
                    self.ambiguous[key] = hits

    def lookup(self, name: str) -> Union[int, List[int], None]:
        key = name_key(str(name))
        if key in self.keys:
            return self.keys[key]
        return self.ambiguous.get(key)


def match_class_texts(names: Sequence[str], entries: Sequence[dict],
                      origin: str, what: str = 'the dataset') -> List[dict]:
    """The class text of each dataset class, in the dataset's label order.

    Args:
        names (Sequence[str]): The dataset's class names, in label order.
        entries (Sequence[dict]): Class texts (``name``, ``description``,
            ``aliases``, maybe ``synset`` and ``where``).
        origin (str): Where the class texts come from, for messages.
        what (str): The dataset, for messages.

    Returns:
        list[dict]: One entry per dataset class: the class text's ``name``,
        ``description``, ``synset`` and ``where``; its ``aliases`` start
        with the dataset's own class name, so ``ClassTextBank.mismatches``
        accepts the dataset's names.

    Raises:
        ValueError: A dataset class is listed twice, matches no class text,
            matches several, or two dataset classes match one class text.
    """
    first: Dict[str, int] = {}
    repeated = []
    for i, name in enumerate(names):
        key = name_key(str(name))
        if key in first:
            repeated.append(f'class {i} {name!r} repeats class {first[key]} '
                            f'{names[first[key]]!r}')
        else:
            first[key] = i
    if repeated:
        raise ValueError(
            f'ClassTextDataset: {what} lists {len(repeated)} class(es) twice '
            f'(names compared ignoring case, "_" and "-"): '
            f'{"; ".join(repeated[:5])}{" ..." if len(repeated) > 5 else ""}'
            '. Two labels of one class would get the same class text; merge '
            'the classes or rename one.')
    index = _KeyIndex(entries)
    missing, ambiguous, taken, out = [], [], {}, []
    for i, name in enumerate(names):
        hit = index.lookup(name)
        if hit is None:
            missing.append(str(name))
            continue
        if isinstance(hit, list):
            ambiguous.append(
                f'{name!r} names {len(hit)} class texts ('
                + ', '.join(repr(entries[j]['name']) for j in hit[:3])
                + ')')
            continue
        if hit in taken:
            repeated.append(f'classes {taken[hit]} {names[taken[hit]]!r} '
                            f'and {i} {name!r} both match '
                            f'{entries[hit]["name"]!r}')
            continue
        taken[hit] = i
        entry = dict(entries[hit])
        aliases = [str(name)] + [
            a for a in entry.get('aliases') or [] if a != str(name)]
        entry['aliases'] = [a for a in aliases if a != entry['name']]
        entry['description'] = str(entry.get('description') or '')
        out.append(entry)
    problems = []
    if missing:
        problems.append(
            f'{len(missing)} of its {len(names)} classes match no class text'
            f' of {origin}: {missing[:20]}'
            f'{" ..." if len(missing) > 20 else ""}. Add each to the class '
            'texts (a row "name<TAB>description", or an alias of the row '
            'that describes it), or pass `classes=[...]` with names that '
            'the class texts know')
    if ambiguous:
        problems.append(
            f'{len(ambiguous)} class name(s) match several class texts of '
            f'{origin}: {"; ".join(ambiguous[:5])}. Name the class by a '
            'key of one class text only (its synset id, or a distinct '
            'alias)')
    if repeated:
        problems.append(
            f'{len(repeated)} class texts would serve two labels: '
            f'{"; ".join(repeated[:5])}. Each class must match its own '
            'class text')
    if problems:
        raise ValueError(
            f'ClassTextDataset: the classes of {what} do not match the '
            'class texts (names compared ignoring case, "_" and "-", '
            'against names, aliases and synset ids): '
            + '; '.join(problems) + '.')
    return out


@DATASETS.register_module()
class ClassTextDataset:
    """A classification dataset whose classes carry iCAR's class texts.

    Wraps any dataset with class names in ``metainfo['classes']`` (or given
    by ``classes``) and exposes ``metainfo['classes']`` (the dataset's own
    names, in its label order) and ``metainfo['class_texts']`` (the
    matching ``dict(name, description, aliases, ...)`` of each, same
    order). Samples, labels and length are the wrapped dataset's.

    Like mmengine's ``ClassBalancedDataset`` it is not a ``BaseDataset``:
    take subsets with the wrapped dataset's ``indices``.

    Args:
        dataset (dict | Dataset): The dataset or its config (built in
            icar_mm's scope, which reaches mmpretrain's datasets).
        class_texts (dict): Where the class texts come from, one of:

            * ``dict(source=dict(type=NAME, **kwargs))``: a registered
              class-text source (``'imagenet-22k'``, ``'synthetic_world'``,
              ...);
            * ``dict(file=PATH)``: a JSON or TSV class-text file (name,
              description, aliases), in any order and possibly with more
              classes than the dataset;
            * ``dict(descriptions='wordnet')``: the dataset's names, each
              with the gloss of the first ImageNet-22K synset that has it as
              a lemma (as the zero-shot benchmarks do); ``None``: names
              only.
        classes (Sequence[str] | dict, optional): The class names in label
            order, for a dataset without them (``Flowers102``) or to name
            the classes otherwise (as many as the dataset has);
            ``dict(benchmark=NAME)`` takes CLIP's names of a zero-shot
            benchmark. Defaults to the dataset's ``metainfo['classes']``.
        require_descriptions (bool): Every class must have a description
            (iCAR's enriched class texts); the classes without one are
            listed. Not applied with ``descriptions=None``. Defaults to
            True.
        lazy_init (bool): Leave the wrapped dataset's data list unloaded
            until :meth:`full_init` (its classes are still read, which for
            a folder dataset means scanning it). Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 class_texts: Dict,
                 classes: Union[Sequence[str], Dict, None] = None,
                 require_descriptions: bool = True,
                 lazy_init: bool = False) -> None:
        kind, value = _origin_of(class_texts)
        if isinstance(dataset, dict):
            cfg = copy.deepcopy(dict(dataset))
            dataset_cls = DATASETS.get(cfg.get('type')) if isinstance(
                cfg.get('type'), str) else cfg.get('type')
            if lazy_init and isinstance(dataset_cls, type) and issubclass(
                    dataset_cls, BaseDataset):
                cfg.setdefault('lazy_init', True)
            self.dataset = DATASETS.build(cfg)
        elif hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__'):
            self.dataset = dataset
        else:
            raise TypeError('ClassTextDataset: `dataset` must be a dataset '
                            f'or its config, got {type(dataset)!r}.')
        self.what = f'dataset {type(self.dataset).__name__}'
        self.classes_given = classes is not None
        names = self._class_names(classes)
        entries, origin = self._load(kind, value, names)
        self.class_origin = origin
        texts = match_class_texts(names, entries, origin, self.what)
        if require_descriptions and not (kind == 'descriptions'
                                         and value is None):
            self._check_descriptions(names, texts, kind, origin)
        meta = dict(getattr(self.dataset, 'metainfo', None) or {})
        meta.update(classes=tuple(names), class_texts=texts)
        self._metainfo = meta
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ---------------------------------------------------------- classes
    def _class_names(self, classes) -> List[str]:
        own = (getattr(self.dataset, 'metainfo', None) or {}).get('classes')
        if own is None and classes is None and hasattr(self.dataset,
                                                       'full_init'):
            # a folder dataset finds its classes while loading
            self.dataset.full_init()
            own = (getattr(self.dataset, 'metainfo', None)
                   or {}).get('classes')
        if isinstance(classes, dict):
            if set(classes) != {'benchmark'}:
                raise ValueError('classes must be a list of names or '
                                 f'dict(benchmark=NAME); got {classes!r}.')
            from .benchmarks import get_benchmark
            classes = get_benchmark(classes['benchmark']).classnames
        if classes is None:
            if own is None:
                raise ValueError(
                    f'ClassTextDataset: {self.what} has no class names '
                    "(metainfo['classes']). Pass classes=[...] (its class "
                    'names in label order), or classes=dict(benchmark=NAME) '
                    "for CLIP's names of a zero-shot benchmark.")
            return [str(c) for c in own]
        if isinstance(classes, str):
            raise TypeError('classes must be a sequence of names, not the '
                            f'string {classes!r}.')
        names = [str(c) for c in classes]
        if own is not None and len(own) != len(names):
            raise ValueError(
                f'ClassTextDataset: `classes` has {len(names)} names but '
                f'{self.what} has {len(own)} classes; give one name per '
                'label, in label order.')
        return names

    def _load(self, kind: str, value, names: List[str]
              ) -> Tuple[List[dict], str]:
        if kind == 'file':
            return load_class_text_file(value), f'file {value!r}'
        if kind == 'source':
            entries = load_class_text_source(value)
            origin = f'source {dict(value).get("type")!r}'
            check_unique_classes(entries, origin)
            return entries, origin
        if value not in ('wordnet', None):
            raise ValueError(
                "class_texts=dict(descriptions=...) takes 'wordnet' or None "
                f'(names only); got {value!r}. For a class-text file use '
                'class_texts=dict(file=PATH).')
        # names (underscores as spaces) with WordNet glosses or none
        entries = []
        for name, entry in zip(
                names,
                benchmark_class_texts([n.replace('_', ' ') for n in names],
                                      value)):
            entry = dict(entry, aliases=[name], where=f'{self.what} class '
                         f'{len(entries)} {name!r}')
            entries.append(entry)
        origin = ('WordNet glosses (ImageNet-22K lemmas)'
                  if value == 'wordnet' else 'the class names (no '
                  'descriptions)')
        return entries, origin

    def _check_descriptions(self, names, texts, kind, origin) -> None:
        missing = [
            f'{i} {name!r}' for i, (name, t) in enumerate(zip(names, texts))
            if not t['description'].strip()
        ]
        if not missing:
            return
        fix = ('give their descriptions in a class-text file '
               '(class_texts=dict(file=PATH))' if kind == 'descriptions' else
               f'add their descriptions to {origin}')
        raise ValueError(
            f'ClassTextDataset: {len(missing)} of the {len(names)} classes of'
            f' {self.what} have no description in {origin}: '
            f'{", ".join(missing[:20])}{" ..." if len(missing) > 20 else ""}'
            f'. Either {fix}, or set require_descriptions=False to keep '
            'their bare names (and use_descriptions=None or False in the '
            "model's class texts).")

    # ---------------------------------------------------------- dataset
    @property
    def metainfo(self) -> dict:
        """``classes`` and ``class_texts`` (label order), and the wrapped
        dataset's other meta information."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Load the wrapped dataset; check its labels against the class list
        when the names were given by ``classes``."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        if self.classes_given:
            self._check_labels()
        self._fully_initialized = True

    def _check_labels(self) -> None:
        num = len(self._metainfo['classes'])
        if not hasattr(self.dataset, 'get_data_info'):
            return
        bad = []
        for i in range(len(self.dataset)):
            label = self.dataset.get_data_info(i).get('gt_label')
            labels = label.tolist() if hasattr(label, 'tolist') else label
            for lab in labels if isinstance(labels, (list, tuple)) else [
                    labels]:
                if lab is not None and not 0 <= int(lab) < num:
                    bad.append(f'sample {i}: label {int(lab)}')
        if bad:
            raise ValueError(
                f'ClassTextDataset: {len(bad)} label(s) of {self.what} are '
                f'outside the {num} names of `classes`: {bad[:5]}. Give one '
                'name per label, in label order.')

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset)

    def __getitem__(self, idx: int):
        self.full_init()
        return self.dataset[idx]

    def get_data_info(self, idx: int) -> dict:
        self.full_init()
        return self.dataset.get_data_info(idx)

    def get_cat_ids(self, idx: int) -> List[int]:
        self.full_init()
        return self.dataset.get_cat_ids(idx)

    def get_gt_labels(self):
        self.full_init()
        return self.dataset.get_gt_labels()

    # the wrapped dataset's bad-sample accounting (SkipBadSamplesMixin),
    # read by the two-stream loader and the data-health hook
    @property
    def load_skipped(self) -> list:
        return getattr(self.dataset, 'load_skipped', None) or []

    @property
    def source_name(self) -> Optional[str]:
        return getattr(self.dataset, 'source_name', None)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({len(self._metainfo["classes"])} '
                f'classes of {self.what} with class texts from '
                f'{self.class_origin})')


@CLASS_TEXT_SOURCES.register_module(name='dataset_classes')
def dataset_class_texts(dataset: Union[dict, object],
                        class_texts: Dict,
                        classes: Union[Sequence[str], Dict, None] = None,
                        require_descriptions: bool = True,
                        **kwargs) -> List[dict]:
    """The class texts of a :class:`ClassTextDataset`, in its label order.

    Takes the wrapper's own arguments, so a config gives the model the
    dataset's class list with ``source=dict(cls_dataset,
    type='dataset_classes')``. The wrapped dataset's data list is not
    loaded (``lazy_init``), unless reading its classes needs it (a folder
    dataset scans its class folders).

    Returns:
        list[dict]: ``metainfo['class_texts']`` of the wrapper.
    """
    kwargs.pop('lazy_init', None)
    if kwargs:
        raise TypeError('dataset_classes: unexpected arguments '
                        f'{sorted(kwargs)}; it takes the arguments of '
                        'ClassTextDataset.')
    wrapper = ClassTextDataset(
        dataset=dataset,
        class_texts=class_texts,
        classes=classes,
        require_descriptions=require_descriptions,
        lazy_init=True)
    return wrapper.metainfo['class_texts']
