"""The synthetic world: one seeded object that samples, renders and exports.

:class:`SyntheticWorld` combines the concepts of this package (classes,
scenes, rendering, captions, sample sets, export) around its settings
(seed, image size, noise, clutter, textures, sizes, JPEG quality). See
``docs/synthetic_world.md``.
"""
from typing import Sequence, Tuple, Union

from .captions import CaptionMixin
from .classes import ClassesMixin
from .export import ExportMixin
from .rendering import RenderingMixin
from .scenes import SceneMixin
from .splits import SplitsMixin
from .vocabulary import SIZES, TEXTURES


class SyntheticWorld(ClassesMixin, SceneMixin, RenderingMixin, CaptionMixin,
                     SplitsMixin, ExportMixin):
    """A deterministic synthetic world of coloured, textured shapes.

    See ``docs/synthetic_world.md`` for the design. In short: 36 (colour,
    shape) classes, 26 seen (labels) and 10 held out (new compositions of
    seen attributes, present in captions but never labels); half of the
    class names are nonce words whose meaning only the description carries;
    the captions use synonyms and extra attribute words (texture, size,
    position) that overlap, but do not equal, the class names and never
    contain a nonce name.

    Args:
        seed (int): Seed of the world; every sample is a function of it and
            of the per-call ``seed``. Defaults to 0.
        image_size (int): Height and width of the square images.
            Defaults to 64.
        noise_std (tuple[float, float]): Range of the per-image std of the
            (near-Gaussian) sensor noise (uint8 units). Defaults to (3., 10.).
        num_clutter (tuple[int, int]): Inclusive range of the number of grey
            clutter items in the background. Defaults to (2, 6).
        textures (Sequence[str]): Textures to sample from.
            Defaults to :data:`~.vocabulary.TEXTURES`.
        sizes (Sequence[str]): Sizes to sample from.
            Defaults to :data:`~.vocabulary.SIZES`.
        jpeg_quality (int): JPEG quality used by :meth:`export` (which also
            turns chroma subsampling off). Defaults to 95.
    """

    def __init__(self,
                 seed: int = 0,
                 image_size: int = 64,
                 noise_std: Tuple[float, float] = (3., 10.),
                 num_clutter: Tuple[int, int] = (2, 6),
                 textures: Sequence[str] = TEXTURES,
                 sizes: Sequence[str] = SIZES,
                 jpeg_quality: int = 95) -> None:
        if image_size < 16:
            raise ValueError(f'image_size must be >= 16, got {image_size}')
        for t in textures:
            if t not in TEXTURES:
                raise ValueError(f'unknown texture {t!r}; choose from '
                                 f'{TEXTURES}')
        for s in sizes:
            if s not in SIZES:
                raise ValueError(f'unknown size {s!r}; choose from {SIZES}')
        self.seed = int(seed)
        self.image_size = int(image_size)
        self.noise_std = tuple(float(v) for v in noise_std)
        self.num_clutter = tuple(int(v) for v in num_clutter)
        self.textures = tuple(textures)
        self.sizes = tuple(sizes)
        self.jpeg_quality = int(jpeg_quality)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(seed={self.seed}, '
                f'image_size={self.image_size})')


WorldCfg = Union[dict, SyntheticWorld, None]


def build_world(world: WorldCfg = None) -> SyntheticWorld:
    """Build a :class:`SyntheticWorld` from its kwargs (or pass one through).

    Args:
        world (dict | SyntheticWorld, optional): ``SyntheticWorld`` kwargs,
            e.g. ``dict(seed=0, image_size=64)``; None for the defaults.

    Returns:
        SyntheticWorld: The world.
    """
    if isinstance(world, SyntheticWorld):
        return world
    if world is None:
        return SyntheticWorld()
    if not isinstance(world, dict):
        raise TypeError('world must be a dict of SyntheticWorld kwargs, got '
                        f'{type(world).__name__}')
    return SyntheticWorld(**world)
