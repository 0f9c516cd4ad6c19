"""Named random streams: the only source of randomness of the synthetic world.

Every sample is drawn from a generator seeded by a list of ints and strings
(the world seed, the seed of a sample set, a split or stream name, an
index). Strings enter through a CRC-32, never Python's randomised ``hash``,
and the global numpy RNG is never used: the same arguments give
byte-identical data in every process. See ``docs/synthetic_world.md``.
"""
import zlib
from typing import Union

import numpy as np


def stream_code(text: str) -> int:
    """A stable (process-independent) integer for a string."""
    return zlib.crc32(text.encode('utf-8'))


def random_stream(*parts: Union[int, str]) -> np.random.Generator:
    """The generator of one named stream.

    Args:
        *parts: Ints (seeds, indices) and strings (names, coded by
            :func:`stream_code`) that together name the stream.

    Returns:
        np.random.Generator: Seeded with the ``SeedSequence`` entropy
        ``[part or its code, ...]``.
    """
    return np.random.default_rng(
        [stream_code(p) if isinstance(p, str) else int(p) for p in parts])
