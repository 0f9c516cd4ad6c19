"""Compare a converted state dict with the one a model expects."""
from typing import Dict, List, Mapping, Tuple

import torch


class KeyReport(dict):
    """``missing``, ``unexpected``, ``shape_mismatch`` and ``dropped`` keys.

    ``missing``: expected by the model, absent from the converted dict;
    ``unexpected``: converted but unknown to the model; ``shape_mismatch``:
    ``(key, converted shape, expected shape)``; ``dropped``: source keys the
    converter left out on purpose (with the reason).
    """

    @property
    def ok(self) -> bool:
        """No missing, unexpected or mismatched key."""
        return not (self['missing'] or self['unexpected']
                    or self['shape_mismatch'])

    def format(self, title: str = 'keys') -> str:
        """A readable multi-line report listing every unmatched key."""
        lines = [f'{title}: {"OK" if self.ok else "MISMATCH"}']
        for name in ('missing', 'unexpected', 'shape_mismatch', 'dropped'):
            items = self.get(name, [])
            lines.append(f'  {name} ({len(items)}):')
            lines += [f'    {item}' for item in items]
        return '\n'.join(lines)


def compare_keys(converted: Mapping[str, torch.Tensor],
                 expected: Mapping[str, torch.Tensor],
                 dropped: List[Tuple[str, str]] = ()) -> KeyReport:
    """Every difference between ``converted`` and ``expected``.

    Args:
        converted (Mapping): The converted state dict.
        expected (Mapping): The target model's ``state_dict()``.
        dropped (list[tuple[str, str]]): Source keys left out on purpose,
            ``(key, reason)``.

    Returns:
        KeyReport: The comparison.
    """
    missing = sorted(k for k in expected if k not in converted)
    unexpected = sorted(k for k in converted if k not in expected)
    mismatch = sorted((k, tuple(converted[k].shape), tuple(expected[k].shape))
                      for k in converted
                      if k in expected and hasattr(converted[k], 'shape')
                      and tuple(converted[k].shape) != tuple(
                          expected[k].shape))
    return KeyReport(
        missing=missing,
        unexpected=unexpected,
        shape_mismatch=mismatch,
        dropped=list(dropped))


def strip_prefix(state: Mapping[str, torch.Tensor],
                 prefix: str) -> Dict[str, torch.Tensor]:
    """The entries under ``prefix``, without it."""
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}
