"""Shard URLs and shard writing for webdataset image-text data.

A shard set is named like OpenCLIP's ``--train-data``: a brace pattern
(``data/laion/{000000..000099}.tar``), several patterns joined by ``::``, or
a list; local paths are relative to ``data_root``; ``pipe:`` and URLs with a
scheme (``s3://``, ``https://``...) are passed to webdataset's ``gopen``.
"""
import json
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import braceexpand

Urls = Union[str, Sequence[str]]


def _has_scheme(url: str) -> bool:
    return url.startswith('pipe:') or '://' in url


def expand_urls(urls: Urls, data_root: str = '') -> List[str]:
    """All shard URLs of a shard set (brace patterns expanded).

    Args:
        urls (str | Sequence[str]): ``'a/{0..9}.tar::b/{0..3}.tar'`` or a
            list of such patterns.
        data_root (str): Prefix of relative local paths.

    Returns:
        list[str]: The shard URLs, in order.
    """
    if isinstance(urls, str):
        patterns = [u for u in urls.split('::') if u.strip()]
    else:
        patterns = [str(u) for u in urls]
    out = []
    for pattern in patterns:
        for url in braceexpand.braceexpand(pattern.strip()):
            if data_root and not _has_scheme(url) and not osp.isabs(url):
                url = osp.join(data_root, url)
            out.append(osp.expanduser(url) if url.startswith('~') else url)
    return out


def is_shard_spec(value) -> bool:
    """Whether ``value`` names webdataset shards (not a CSV/JSONL file)."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(is_shard_spec(v) for v in value)
    if not isinstance(value, str) or not value:
        return False
    if value.startswith('pipe:'):
        return True
    first = next(iter(braceexpand.braceexpand(value.split('::')[0])), '')
    return first.lower().endswith(('.tar', '.tar.gz', '.tgz'))


def local_shard_paths(urls: Urls, data_root: str = '') -> List[str]:
    """The local files of a shard set (``pipe:``/remote URLs left out)."""
    return [
        re_file(u) for u in expand_urls(urls, data_root)
        if not _has_scheme(u) or u.startswith('file:')
    ]


def re_file(url: str) -> str:
    """``file:///a/b`` -> ``/a/b``."""
    if url.startswith('file://'):
        return url[len('file://'):]
    if url.startswith('file:'):
        return url[len('file:'):]
    return url


def read_sizes(urls: Urls, data_root: str = '') -> Optional[int]:
    """Samples in a local shard set, from the ``sizes.json`` beside it.

    OpenCLIP's convention: a JSON object ``{shard file name: count}`` in the
    shards' folder. None when a shard is not listed.
    """
    total = 0
    cache: Dict[str, dict] = {}
    for path in local_shard_paths(urls, data_root):
        folder = osp.dirname(path)
        if folder not in cache:
            sizes_file = osp.join(folder, 'sizes.json')
            try:
                with open(sizes_file, encoding='utf-8') as f:
                    cache[folder] = json.load(f)
            except (OSError, ValueError):
                cache[folder] = {}
        n = cache[folder].get(osp.basename(path))
        if n is None:
            return None
        total += int(n)
    return total


def write_image_text_shards(
        samples: Iterable[Tuple[str, bytes, str, str, Optional[dict]]],
        out_dir: str,
        maxcount: int = 1000,
        prefix: str = '',
        digits: int = 6) -> Dict[str, object]:
    """Pack image-text samples into webdataset shards (+ ``sizes.json``).

    Each sample becomes ``key.<ext>`` (the image bytes as they are),
    ``key.txt`` (the caption) and, when given, ``key.json`` (metadata, with
    the caption under ``caption``).

    Args:
        samples: ``(key, image_bytes, image_ext, caption, meta)`` tuples;
            keys must be unique and contain no dot.
        out_dir (str): Output folder (created).
        maxcount (int): Samples per shard. Defaults to 1000.
        prefix (str): Shard file name prefix. Defaults to ''.
        digits (int): Digits of the shard number. Defaults to 6.

    Returns:
        dict: ``shards`` (paths), ``pattern`` (brace pattern of all shards),
        ``num_samples``, ``sizes`` (file name -> count).
    """
    import webdataset as wds
    os.makedirs(out_dir, exist_ok=True)
    pattern = osp.join(out_dir, f'{prefix}%0{digits}d.tar')
    sizes: Dict[str, int] = {}
    written: List[str] = []
    total = 0
    with wds.ShardWriter(pattern, maxcount=maxcount, verbose=0) as sink:
        for key, data, ext, caption, meta in samples:
            if '.' in key:
                raise ValueError(f'Shard sample keys must not contain dots '
                                 f'(webdataset splits names at the first '
                                 f'dot): {key!r}.')
            sample = {'__key__': key, ext.lstrip('.').lower(): data,
                      'txt': caption}
            if meta is not None:
                sample['json'] = dict(meta, caption=caption)
            sink.write(sample)
            name = osp.basename(sink.fname)
            if not written or written[-1] != sink.fname:
                written.append(sink.fname)
            sizes[name] = sizes.get(name, 0) + 1
            total += 1
    with open(osp.join(out_dir, 'sizes.json'), 'w', encoding='utf-8') as f:
        json.dump(sizes, f, indent=1)
    n = len(written)
    pattern = (osp.join(out_dir, f'{prefix}{{{0:0{digits}d}..'
                        f'{n - 1:0{digits}d}}}.tar') if n else '')
    return dict(shards=written, pattern=pattern, num_samples=total,
                sizes=sizes)
