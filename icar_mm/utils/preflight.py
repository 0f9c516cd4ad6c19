"""Check a config's local inputs before anything heavy is built."""
import os.path as osp
from typing import Any, Iterator, List, Tuple

from mmengine.config import Config

#: config keys whose value is a local file or directory that must exist
_PATH_KEYS = ('ann_file', 'file', 'pretrained', 'data_root', 'checkpoint',
              'urls')


def _walk(node: Any, prefix: str) -> Iterator[Tuple[str, Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            path = f'{prefix}.{key}' if prefix else str(key)
            yield path, key, value
            yield from _walk(value, path)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f'{prefix}.{i}')


def _is_local(value: str) -> bool:
    return value.startswith(('/', './', '../', '~', 'data/', 'work_dirs/'))


def find_missing_inputs(
    cfg: Config,
    sections: Tuple[str, ...] = ('model', 'train_dataloader', 'val_dataloader',
                                 'test_dataloader')
) -> List[str]:
    """List the local paths a config needs but that do not exist.

    Looks at ``load_from``, text model directories (``pretrained``), class-
    text files and the ``data_root`` / ``ann_file`` of every dataloader, so
    a run on a machine without the data fails in seconds with every missing
    input named, instead of after building a large model.

    Args:
        cfg (Config): The config (after ``--cfg-options``).
        sections (tuple[str]): The top-level keys to check (training needs
            no test data, testing no training data).

    Returns:
        list[str]: One line per missing input: the config key, the path and
        how to fix it. Empty when everything is present.
    """
    problems = []
    if cfg.get('load_from') and not osp.exists(
            osp.expanduser(cfg.load_from)) and '://' not in cfg.load_from:
        problems.append(f'load_from: checkpoint {cfg.load_from!r} not found.')
    for section in sections:
        node = cfg.get(section)
        if node is None:
            continue
        for key_path, key, value in _walk(node.to_dict() if hasattr(
                node, 'to_dict') else node, section):
            if key not in _PATH_KEYS or not isinstance(value, str) or \
                    not value:
                continue
            full = value
            if key in ('ann_file', 'urls') and _is_shard_spec(value):
                # webdataset shards: a brace pattern, not one file
                root = _inherited(node, key_path, 'data_root')
                problems.extend(_missing_shards(key_path, value, root))
                continue
            if key == 'urls':
                continue
            if key == 'ann_file' and not osp.isabs(value):
                root = _sibling(node, key_path, section, 'data_root')
                full = osp.join(root, value) if root else value
            elif key == 'pretrained' and not _is_local(value):
                if not value.startswith('package:') and \
                        not _hub_model_reachable(value):
                    problems.append(
                        f'{key_path}: text model {value!r} is not a local '
                        'directory, not in the Hugging Face cache, and the '
                        'hub is unreachable. Download it where there is '
                        f'network (huggingface-cli download {value} '
                        f'--local-dir DIR) and set --cfg-options '
                        f'{key_path}=DIR.')
                continue
            elif not _is_local(value):
                continue
            if not osp.exists(osp.expanduser(full)):
                what = {
                    'pretrained': 'model directory',
                    'data_root': 'data root',
                    'ann_file': 'annotation file',
                    'file': 'class-text file',
                    'checkpoint': 'checkpoint',
                }[key]
                problems.append(
                    f'{key_path}: {what} {full!r} does not exist '
                    f'(set it with --cfg-options {key_path}=PATH).')
    return problems


def _is_shard_spec(value: str) -> bool:
    from icar_mm.datasets.webdataset_utils import is_shard_spec
    return is_shard_spec(value)


def _missing_shards(key_path: str, value: str, root: str) -> List[str]:
    """A problem line when local shards of a shard set are missing."""
    from icar_mm.datasets.webdataset_utils import local_shard_paths
    paths = local_shard_paths(value, root)
    missing = [p for p in paths if not osp.exists(osp.expanduser(p))]
    if not missing:
        return []
    return [
        f'{key_path}: {len(missing)} of {len(paths)} webdataset shards of '
        f'{value!r} do not exist, e.g. {missing[0]!r} (set it with '
        f'--cfg-options {key_path}=PATTERN).'
    ]


def _hub_model_reachable(repo_id: str, timeout: float = 3.) -> bool:
    """Whether ``from_pretrained(repo_id)`` can work: cached or hub online."""
    import os
    import socket
    from urllib.parse import urlparse
    try:
        from huggingface_hub import try_to_load_from_cache
        if isinstance(try_to_load_from_cache(repo_id, 'config.json'), str):
            return True
    except Exception:  # malformed id, old huggingface_hub
        pass
    if os.environ.get('HF_HUB_OFFLINE', '0') not in ('0', '', 'false'):
        return False
    host = urlparse(os.environ.get('HF_ENDPOINT',
                                   'https://huggingface.co')).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _sibling(node: Any, key_path: str, section: str, name: str) -> str:
    """Value of ``name`` next to the key at ``key_path`` (e.g. data_root)."""
    parts = key_path.split('.')[1:-1]
    for part in parts:
        node = node[int(part)] if isinstance(node, (list, tuple)) else \
            node[part]
    value = node.get(name, '') if isinstance(node, dict) else ''
    return value if isinstance(value, str) else ''


def _inherited(node: Any, key_path: str, name: str) -> str:
    """``name`` next to the key or in the closest dict above it."""
    parts = key_path.split('.')[1:-1]
    found = ''
    for depth in range(len(parts) + 1):
        cur = node
        for part in parts[:depth]:
            cur = cur[int(part)] if isinstance(cur, (list, tuple)) else \
                cur[part]
        value = cur.get(name, '') if isinstance(cur, dict) else ''
        if isinstance(value, str) and value:
            found = value
    return found
