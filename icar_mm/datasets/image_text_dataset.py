"""Image-text pairs listed in a CSV/TSV file or in JSON lines.

Formats (picked from the file extension, or from ``sep``):

* ``.csv`` / ``.tsv`` (or any file with an explicit ``sep``): a header row,
  then one pair per row (OpenCLIP's ``--csv-img-key filepath
  --csv-caption-key title`` layout by default); quoted fields may contain the
  separator.
* ``.jsonl`` / ``.ndjson``: one JSON object per line; the configured
  ``image_key``/``caption_key`` are used as they are (there is no silent
  fallback to other key names), e.g. ``image_key='image',
  caption_key='caption'``.

Image paths are relative to ``data_root``/``data_prefix`` unless absolute.
Each data info has ``img_path`` and ``text``; pipelines start with
``LoadImageFromFile`` (or ``LoadImageChecked``) and end with
``PackInputs(algorithm_keys=['text'])``.

With ``skip_bad_samples=True`` (training configs) bad data does not stop a
run: rows with an empty caption or image path are left out at load time,
and images that cannot be read are replaced by the next sample; both are
counted and logged with their file/line or path (see
:mod:`icar_mm.datasets.data_health`).
"""
import csv
import io
import json
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple, Union

from mmengine import fileio
from mmpretrain.datasets import BaseDataset

from icar_mm.registry import DATASETS
from .data_health import SkipBadSamplesMixin

_SEPS = {'.csv': ',', '.tsv': '\t'}
_JSONL = ('.jsonl', '.ndjson')
#: the lone surrogates that ``errors='surrogateescape'`` makes of bad bytes
_NOT_UTF8 = re.compile('[\udc80-\udcff]')


@DATASETS.register_module()
class ImageTextDataset(SkipBadSamplesMixin, BaseDataset):
    """Image-text pairs from a CSV/TSV (with a header) or JSON-lines file.

    Args:
        ann_file (str): The annotation file, relative to ``data_root``.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
            Defaults to ''.
        data_prefix (str | dict): Prefix of the image paths.
            Defaults to ''.
        image_key (str): Column / key of the image path.
            Defaults to ``'filepath'``.
        caption_key (str): Column / key of the caption.
            Defaults to ``'title'``.
        sep (str, optional): Column separator; None infers it from the
            extension (``','`` for ``.csv``, ``'\\t'`` for ``.tsv``).
            Ignored for JSON lines.
        pipeline (Sequence): Transforms.
        skip_bad_samples (bool): Skip and count rows with an empty caption
            or image path and unreadable images instead of raising.
            Defaults to False (strict).
        source_name (str, optional): Name of the source in the logs.
            Defaults to the annotation file's name.
        max_consecutive_bad (int): Unreadable samples in a row that mean a
            broken config (an error even when skipping). Defaults to 100.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments.

    Raises:
        FileNotFoundError: ``ann_file`` does not exist.
        ValueError: Unknown format, missing column/key (the message lists the
            ones found), empty image path or caption (the message names the
            file and line), invalid JSON, no pairs at all.
    """

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 image_key: str = 'filepath',
                 caption_key: str = 'title',
                 sep: Optional[str] = None,
                 pipeline: Sequence = (),
                 skip_bad_samples: bool = False,
                 source_name: Optional[str] = None,
                 max_consecutive_bad: int = 100,
                 **kwargs) -> None:
        self.image_key = image_key
        self.caption_key = caption_key
        self.sep = sep
        self._init_skip(
            skip_bad_samples, source_name or
            (osp.splitext(osp.basename(ann_file))[0] if isinstance(
                ann_file, str) and ann_file else None), max_consecutive_bad)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=pipeline,
            **kwargs)

    # ------------------------------------------------------------ parsing
    def _name(self) -> str:
        return type(self).__name__

    def _format(self, path: str) -> Tuple[str, Optional[str]]:
        """``('jsonl', None)`` or ``('delimited', sep)``."""
        ext = osp.splitext(path)[1].lower()
        if ext in _JSONL:
            return 'jsonl', None
        sep = self.sep if self.sep is not None else _SEPS.get(ext)
        if sep is None:
            raise ValueError(
                f"{self._name()}: cannot infer the format of '{path}' from "
                f"its extension '{ext}'. Use .csv, .tsv, .jsonl or .ndjson, "
                'or set `sep` in the dataset config for a delimited file.')
        return 'delimited', sep

    def _missing(self, path: str, found: Sequence[str], what: str,
                 where: str) -> ValueError:
        keys = [k for k in (self.image_key, self.caption_key)
                if k not in found]
        return ValueError(
            f"{self._name()}: {where} of '{path}' has no {what} "
            f'{keys}; {what}s found: {list(found)}. Set `image_key` / '
            '`caption_key` in the dataset config to the right names.')

    def _iter_delimited(self, text: str, path: str,
                        sep: str) -> List[Tuple[int, str, str]]:
        reader = csv.reader(io.StringIO(text), delimiter=sep)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{self._name()}: '{path}' is empty; expected a "
                             f'header row with columns {self.image_key!r} and '
                             f'{self.caption_key!r}.')
        header = [h.strip() for h in header]
        if header and header[0].startswith('\ufeff'):
            header[0] = header[0][1:]
        if self.image_key not in header or self.caption_key not in header:
            hint = ''
            if len(header) == 1 and sep not in header[0]:
                hint = f' (is the separator {sep!r} right? set `sep`)'
            raise ValueError(
                str(self._missing(path, header, 'column', 'the header')) +
                hint)
        i_img = header.index(self.image_key)
        i_cap = header.index(self.caption_key)
        rows = []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue  # blank line
            if len(row) != len(header):
                raise ValueError(
                    f"{self._name()}: '{path}' line {reader.line_num} has "
                    f'{len(row)} fields but the header has {len(header)}; '
                    'quote fields that contain the separator.')
            rows.append((reader.line_num, row[i_img], row[i_cap]))
        return rows

    def _iter_jsonl(self, text: str, path: str) -> List[Tuple[int, str, str]]:
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{self._name()}: '{path}' line {lineno} is "
                                 f'not valid JSON: {e}') from None
            if not isinstance(obj, dict):
                raise ValueError(f"{self._name()}: '{path}' line {lineno} is "
                                 f'a {type(obj).__name__}, expected a JSON '
                                 'object.')
            if self.image_key not in obj or self.caption_key not in obj:
                raise self._missing(path, list(obj), 'key', f'line {lineno}')
            rows.append((lineno, obj[self.image_key], obj[self.caption_key]))
        return rows

    # ------------------------------------------------------------ loading
    def load_data_list(self) -> List[dict]:
        """Read ``ann_file`` into ``dict(img_path=..., text=...)`` infos."""
        path = self.ann_file
        if not path:
            raise ValueError(f'{self._name()}: `ann_file` is not set; set it '
                             'in the dataset config to a .csv/.tsv/.jsonl '
                             'file of image-text pairs.')
        if not fileio.exists(path):
            raise FileNotFoundError(
                f"{self._name()}: annotation file '{path}' not found. Set "
                '`ann_file` in the dataset config (relative to `data_root`, '
                f"currently '{self.data_root}') to an existing file.")
        fmt, sep = self._format(path)
        # bytes that are not UTF-8 survive decoding as lone surrogates, so
        # the rows keep their line numbers and only those rows are bad
        text = fileio.get(path).decode('utf-8', errors='surrogateescape')
        rows = (self._iter_jsonl(text, path) if fmt == 'jsonl' else
                self._iter_delimited(text, path, sep))
        prefix = self.data_prefix.get('img_path', '') or ''
        data_list = []
        for lineno, image, caption in rows:
            image = '' if image is None else str(image).strip()
            caption = '' if caption is None else str(caption).strip()
            if _NOT_UTF8.search(image + caption):
                if self.skip_bad_samples:
                    self.load_skipped.append(
                        (self.source_name, 'bad_encoding',
                         f'{path} line {lineno}', 'not UTF-8'))
                    continue
                raise ValueError(
                    f"{self._name()}: '{path}' line {lineno} is not valid "
                    'UTF-8; re-encode the file (e.g. iconv -f latin1 -t '
                    'utf-8) or set skip_bad_samples=True to skip the line.')
            if not image or not caption:
                what = 'image path' if not image else 'caption'
                if self.skip_bad_samples:
                    self.load_skipped.append(
                        (self.source_name, 'empty_caption' if image else
                         'empty_image_path', f'{path} line {lineno}', ''))
                    continue
                raise ValueError(
                    f"{self._name()}: '{path}' line {lineno}: empty {what} "
                    f'in {self.image_key if not image else self.caption_key!r}'
                    '; fix or remove the line.')
            img_path = fileio.join_path(prefix, image) if prefix else image
            data_list.append(dict(img_path=img_path, text=caption))
        if not data_list:
            raise ValueError(
                f"{self._name()}: '{path}' contains no image-text pairs.")
        return data_list

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return super().extra_repr() + [
            f'Image key: \t{self.image_key}',
            f'Caption key: \t{self.caption_key}'
        ]
