"""Scenes of the synthetic world: what they hold and how they are sampled.

A scene is a plain, JSON-serialisable dict: ``image_size``, a
``background`` (grey level, tint, gradient, clutter items, sensor noise)
and a list of ``objects`` (attributes, class id and placement), optionally
with a ``draw_order``. :mod:`.rendering` turns a scene into pixels. See
``docs/synthetic_world.md``.
"""
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .classes import class_records

#: Rotation jitter (degrees, +-) per shape; large enough for variety, small
#: enough that a square never becomes a diamond.
_MAX_ROTATION: Dict[str, float] = {
    'circle': 0.0, 'square': 15.0, 'triangle': 20.0, 'cross': 15.0,
    'star': 36.0, 'diamond': 12.0
}
_SIZE_RANGE: Dict[str, Tuple[float, float]] = {
    'small': (0.12, 0.16),
    'large': (0.22, 0.30),
}  # radius as a fraction of the image size


class SceneMixin:
    """Scene sampling; needs the world's ``image_size``, ``textures``,
    ``sizes``, ``num_clutter``, ``noise_std`` and ``class_id``."""

    def sample_object(self,
                      rng: np.random.Generator,
                      colour: str,
                      shape: str,
                      texture: Optional[str] = None,
                      size: Optional[str] = None) -> dict:
        """Sample the free attributes and the placement of one object.

        Args:
            rng (np.random.Generator): Random generator.
            colour (str): One of :data:`~.vocabulary.COLOURS`.
            shape (str): One of :data:`~.vocabulary.SHAPES`.
            texture (str, optional): Random from ``self.textures`` if None.
            size (str, optional): Random from ``self.sizes`` if None.

        Returns:
            dict: The object record (JSON-serialisable).
        """
        s = self.image_size
        if texture is None:
            texture = self.textures[rng.integers(len(self.textures))]
        if size is None:
            size = self.sizes[rng.integers(len(self.sizes))]
        lo, hi = _SIZE_RANGE[size]
        radius = float(rng.uniform(lo, hi) * s)
        margin = 1.1 * radius
        cx, cy = rng.uniform(margin, s - margin, size=2)
        rot = _MAX_ROTATION[shape]
        return dict(
            shape=shape,
            colour=colour,
            texture=texture,
            size=size,
            class_id=self.class_id(colour, shape),
            center=[float(cx), float(cy)],
            radius=radius,
            angle=float(rng.uniform(-rot, rot)) if rot else 0.0,
            brightness=float(rng.uniform(0.85, 1.1)),
            colour_jitter=[float(v) for v in rng.uniform(-12, 12, size=3)],
            texture_period=float(rng.uniform(3.5, 6.0) * s / 64),
            texture_angle=float(rng.uniform(0, 180)),
            texture_phase=float(rng.uniform(0, 1)),
        )

    def _sample_background(self, rng: np.random.Generator) -> dict:
        s = self.image_size
        grey = float(rng.uniform(70, 190))
        k = int(rng.integers(self.num_clutter[0], self.num_clutter[1] + 1))
        # all clutter parameters at once (fewer generator calls)
        kinds = rng.integers(4, size=k)
        levels = grey + np.where(
            rng.random(k) < 0.5, -1.0, 1.0) * rng.uniform(35, 75, size=k)
        colours = np.clip(levels[:, None] + rng.uniform(-8, 8, (k, 3)), 0,
                          255)
        thickness = rng.integers(1, 3, size=k)
        geom = rng.uniform(0, s, (k, 4))
        rad = rng.random(k)
        clutter = []
        for i in range(k):
            kind = ('line', 'circle', 'rect', 'blob')[int(kinds[i])]
            item = dict(kind=kind, colour=colours[i].tolist(),
                        thickness=int(thickness[i]))
            if kind in ('line', 'rect'):
                item['pts'] = geom[i].tolist()
            else:
                item['center'] = geom[i, :2].tolist()
                hi = 0.1 if kind == 'blob' else 0.25
                item['radius'] = float(s * (0.04 + (hi - 0.04) * rad[i]))
            clutter.append(item)
        tint, grad = rng.uniform(-15, 15, 3), rng.uniform(-25, 25, 2)
        return dict(
            grey=grey,
            tint=tint.tolist(),
            gradient=grad.tolist(),
            clutter=clutter,
            noise_std=float(rng.uniform(*self.noise_std)),
            noise_seed=int(rng.integers(2**31)),
        )

    def sample_scene(self,
                     rng: Union[int, np.random.Generator],
                     class_index: Optional[int] = None,
                     split: str = 'seen',
                     num_objects: int = 1,
                     texture: Optional[str] = None,
                     size: Optional[str] = None) -> dict:
        """Sample a scene whose first (main) object is of a given class.

        Args:
            rng (int | np.random.Generator): Random generator (or its seed).
            class_index (int, optional): Index of the main object's class in
                ``classes(split)``; random if None.
            split (str): Class split of ``class_index`` and of the extra
                objects. Defaults to ``'seen'``.
            num_objects (int): Number of objects; the extra ones get random
                classes of ``split`` and are drawn *under* the main object.
                Defaults to 1.
            texture (str, optional): Texture of the main object.
            size (str, optional): Size of the main object.

        Returns:
            dict: ``dict(image_size, background, objects)``; ``objects[0]``
            is the main object. With extra objects the scene also has
            ``draw_order`` (indices into ``objects``, last drawn on top).
        """
        rng = np.random.default_rng(rng)
        records = class_records(split)
        if class_index is None:
            class_index = int(rng.integers(len(records)))
        rec = records[class_index]
        main = self.sample_object(rng, rec['colour'], rec['shape'], texture,
                                  size)
        extra = []
        for _ in range(num_objects - 1):
            r = records[int(rng.integers(len(records)))]
            extra.append(self.sample_object(rng, r['colour'], r['shape']))
        scene = dict(image_size=self.image_size,
                     background=self._sample_background(rng),
                     objects=[main] + extra)
        if extra:  # painter's order: the main object last, i.e. on top
            scene['draw_order'] = list(range(1, num_objects)) + [0]
        return scene
