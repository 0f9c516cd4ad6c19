"""Class names, descriptions and prompt templates: the classifier's input."""
import hashlib
from typing import Dict, List, Optional, Sequence, Union

import torch

from icar_mm.registry import TASK_UTILS
from .sources import ClassText, load_class_text_file, load_class_text_source
from .templates import get_templates


@TASK_UTILS.register_module()
class ClassTextBank:
    """The texts from which iCAR's text encoder generates class weights.

    A class text is ``text_format`` filled with the class ``name`` and its
    dictionary ``description`` (iCAR's adaptation A3), e.g. ``"tench,
    freshwater dace-like game fish..."``, inserted into a prompt template
    (``"a photo of a {}."``). At training time every class gets one random
    template per step (:meth:`sample_texts`); at test time every template is
    used and the embeddings are averaged (:meth:`ensemble_texts`).

    Classes come from exactly one of ``classes``, ``source`` or ``file``;
    ``classes`` given as names together with ``file`` looks each name up in
    the file (the dataset's class list decides the order) and reports every
    class the file lacks.

    Args:
        classes (Sequence[str | dict], optional): Class names, or dicts with
            ``name``, ``description`` and optional ``aliases``.
        source (dict, optional): ``dict(type=NAME, **kwargs)`` of a registered
            class-text source, e.g. ``dict(type='imagenet-22k')``.
        file (str, optional): A JSON or TSV class-text file.
        templates (str | Sequence[str]): A template set name (see
            :mod:`.templates`) or templates with one ``{}``.
            Defaults to ``'imagenet'`` (CLIP's 80).
        text_format (str): How name and description are joined.
            Defaults to ``'{name}, {description}'``.
        use_descriptions (bool, optional): Whether to use descriptions
            (iCAR full, A3) or names only; None: descriptions when every
            class has one. Defaults to True.
        lowercase (bool): Lower-case the class texts. Defaults to True.
    """

    def __init__(self,
                 classes: Optional[Sequence[Union[str, Dict]]] = None,
                 source: Optional[Dict] = None,
                 file: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'imagenet',
                 text_format: str = '{name}, {description}',
                 use_descriptions: Optional[bool] = True,
                 lowercase: bool = True) -> None:
        self.origin = self._describe_origin(classes, source, file)
        self.classes: List[ClassText] = self._load(classes, source, file)
        if not self.classes:
            raise ValueError(f'ClassTextBank from {self.origin} is empty.')
        self.templates = get_templates(templates)
        self.text_format = text_format
        if use_descriptions is None:
            use_descriptions = all(c['description'] for c in self.classes)
        self.use_descriptions = use_descriptions
        self.lowercase = lowercase
        if use_descriptions:
            missing = [
                f'{i}: {c["name"]!r}' for i, c in enumerate(self.classes)
                if not c['description']
            ]
            if missing:
                raise ValueError(
                    f'{len(missing)} class(es) from {self.origin} have no '
                    f'description: {", ".join(missing[:10])}'
                    f'{" ..." if len(missing) > 10 else ""}. Add them to the '
                    'class-text file, or set use_descriptions=False to use '
                    'names only.')
        self.class_texts = [self._format(c) for c in self.classes]
        self.fingerprint = hashlib.sha1('\n'.join(
            self.class_texts + ['\0'] + self.templates).encode()).hexdigest()

    @staticmethod
    def _describe_origin(classes, source, file) -> str:
        if file is not None:
            return f'file {file!r}'
        if source is not None:
            return f'source {source!r}'
        return 'the `classes` argument'

    @staticmethod
    def _load(classes, source, file) -> List[ClassText]:
        given = [x is not None for x in (source, file)]
        if sum(given) > 1 or (source is not None and classes is not None):
            raise ValueError('Give the classes through one of `classes`, '
                             '`source` or `file` (`classes` names may be '
                             'combined with `file`).')
        if source is not None:
            return load_class_text_source(source)
        if file is not None:
            entries = load_class_text_file(file)
            if classes is None:
                return entries
            return ClassTextBank._match(classes, entries, file)
        if classes is None:
            raise ValueError('ClassTextBank needs `classes`, `source` or '
                             '`file`.')
        return [
            dict(name=c, description='', aliases=[]) if isinstance(c, str)
            else dict(
                c,
                description=c.get('description', ''),
                aliases=list(c.get('aliases', []))) for c in classes
        ]

    @staticmethod
    def _match(classes: Sequence[Union[str, Dict]], entries: List[ClassText],
               file: str) -> List[ClassText]:
        """Order ``entries`` like the dataset's ``classes``; all must exist."""
        index = {}
        for entry in entries:
            for key in [entry['name'], *entry['aliases'],
                        entry.get('synset')]:
                if key:
                    index.setdefault(str(key).lower(), entry)
        names = [c if isinstance(c, str) else c['name'] for c in classes]
        missing = [n for n in names if n.lower() not in index]
        if missing:
            raise ValueError(
                f'The class-text file {file!r} does not match the dataset: '
                f'{len(missing)} of its {len(names)} classes are not in the '
                f'file: {missing[:10]}{" ..." if len(missing) > 10 else ""}. '
                'Each dataset class must appear as a name, alias or synset.')
        return [dict(index[n.lower()]) for n in names]

    def _format(self, cls: ClassText) -> str:
        text = (
            self.text_format.format(
                name=cls['name'], description=cls['description'])
            if self.use_descriptions else cls['name'])
        return text.lower() if self.lowercase else text

    def mismatches(self, classes: Sequence[str]) -> List[tuple]:
        """Where a dataset's class list disagrees with this bank.

        A dataset class matches the bank's class at the same index when it
        equals (case-insensitively) its name, an alias or its synset id.

        Args:
            classes (Sequence[str]): The dataset's classes, in label order.

        Returns:
            list[tuple]: ``(index, dataset class, bank class name)`` for each
            disagreement; a length difference is reported at the end.
        """
        bad = []
        for i, (name, entry) in enumerate(zip(classes, self.classes)):
            keys = {
                str(k).lower()
                for k in [entry['name'], *entry['aliases'],
                          entry.get('synset')] if k
            }
            if str(name).lower() not in keys:
                bad.append((i, name, entry['name']))
        if len(classes) != len(self.classes):
            bad.append((min(len(classes), len(self.classes)),
                        f'{len(classes)} classes',
                        f'{len(self.classes)} classes'))
        return bad

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> List[str]:
        """The class names, in label order."""
        return [c['name'] for c in self.classes]

    @property
    def num_templates(self) -> int:
        return len(self.templates)

    def sample_templates(self,
                         num: int,
                         generator: Optional[torch.Generator] = None
                         ) -> List[int]:
        """A random template index for each of ``num`` classes (training).

        Args:
            num (int): Number of classes.
            generator (torch.Generator, optional): The random source; pass a
                seeded one for reproducible (and resumable) training.

        Returns:
            list[int]: Template indices.
        """
        return torch.randint(
            self.num_templates, (num, ), generator=generator).tolist()

    def prompt(self, index: int, template: int) -> str:
        """Class ``index``'s text in template ``template``."""
        return self.templates[template].format(self.class_texts[index])

    def sample_texts(self,
                     indices: Optional[Sequence[int]] = None,
                     generator: Optional[torch.Generator] = None
                     ) -> List[str]:
        """One randomly chosen template per class (training).

        Args:
            indices (Sequence[int], optional): The classes; all by default.
            generator (torch.Generator, optional): The random source; pass a
                seeded one for reproducible (and resumable) training.

        Returns:
            list[str]: One prompt per class.
        """
        if indices is None:
            indices = range(len(self.classes))
        indices = list(indices)
        templates = self.sample_templates(len(indices), generator)
        return [self.prompt(i, t) for i, t in zip(indices, templates)]

    def ensemble_texts(self,
                       indices: Optional[Sequence[int]] = None) -> List[str]:
        """Every template for every class (test-time ensemble).

        Args:
            indices (Sequence[int], optional): The classes; all by default.

        Returns:
            list[str]: ``len(indices) * num_templates`` prompts, class-major.
        """
        if indices is None:
            indices = range(len(self.classes))
        return [
            self.prompt(i, t) for i in indices
            for t in range(self.num_templates)
        ]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)} classes from '
                f'{self.origin}, {self.num_templates} templates, '
                f'descriptions={self.use_descriptions})')


def build_class_text_bank(
        cfg: Union[ClassTextBank, Dict, None]) -> Optional[ClassTextBank]:
    """A bank from its config (``type`` defaults to ``'ClassTextBank'``).

    The type is looked up in icar_mm's ``TASK_UTILS`` whatever the current
    default scope, so host heads (mmdet, mmseg, mmaction2) build banks too.

    Args:
        cfg (ClassTextBank | dict | None): A bank, its config or None.

    Returns:
        ClassTextBank | None: The bank (None for None).
    """
    if cfg is None or isinstance(cfg, ClassTextBank):
        return cfg
    cfg = dict(cfg)
    bank_type = cfg.pop('type', 'ClassTextBank')
    bank_cls = TASK_UTILS.get(bank_type)
    if bank_cls is None:
        raise KeyError(f'Unknown class-text bank type {bank_type!r}.')
    return bank_cls(**cfg)
