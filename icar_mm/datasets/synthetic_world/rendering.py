"""Rendering of synthetic-world scenes: shapes, textures, background, noise.

:meth:`RenderingMixin.render` is a pure function of a scene (the sensor
noise comes from the scene's own ``noise_seed``): it draws the background,
then the objects in ``draw_order`` (later ones occlude earlier ones), and
returns the BGR image with the visible mask, tight box and class id of each
object. Pure numpy + OpenCV. See ``docs/synthetic_world.md``.
"""
import math
from functools import cached_property
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from .vocabulary import COLOUR_RGB

# Unit shapes (circumradius ~1, centred on the origin, y downwards).


def _star(n: int = 5, outer: float = 1.1, inner: float = 0.45) -> np.ndarray:
    ang = -np.pi / 2 + np.arange(2 * n) * np.pi / n
    rad = np.where(np.arange(2 * n) % 2 == 0, outer, inner)
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)


def _cross(arm: float = 1.0, half: float = 0.33) -> np.ndarray:
    a, h = arm, half
    return np.array([(-h, -a), (h, -a), (h, -h), (a, -h), (a, h), (h, h),
                     (h, a), (-h, a), (-h, h), (-a, h), (-a, -h), (-h, -h)])


def _triangle(circ: float = 1.15) -> np.ndarray:
    ang = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    pts = np.stack([circ * np.cos(ang), circ * np.sin(ang)], 1)
    return pts + np.array([0.0, 0.12])  # centre the bounding box


_POLYGONS: Dict[str, np.ndarray] = {
    'square': np.array([(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85),
                        (-0.85, 0.85)]),
    'triangle': _triangle(),
    'cross': _cross(),
    'star': _star(),
    'diamond': np.array([(0.0, -1.05), (0.62, 0.0), (0.0, 1.05),
                         (-0.62, 0.0)]),
}
_SHIFT = 4  # fixed-point bits for sub-pixel cv2 drawing
_DARK = 0.5  # shade of stripes and dots


class RenderingMixin:
    """Rendering of the world's scenes; needs the world's ``image_size``."""

    @cached_property
    def _pixel_grid(self) -> Tuple[np.ndarray, np.ndarray]:
        """x and y of the pixel centres (HxW float32 each)."""
        s = self.image_size
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
        return xx, yy

    def _object_mask(self, obj: dict) -> np.ndarray:
        s = self.image_size
        mask = np.zeros((s, s), np.uint8)
        cx, cy = obj['center']
        r = obj['radius']
        scale = 1 << _SHIFT
        if obj['shape'] == 'circle':
            cv2.circle(mask, (int(round(cx * scale)), int(round(cy * scale))),
                       int(round(r * scale)), 1, -1, cv2.LINE_8, _SHIFT)
        else:
            t = math.radians(obj['angle'])
            rot = np.array([[math.cos(t), -math.sin(t)],
                            [math.sin(t), math.cos(t)]])
            pts = _POLYGONS[obj['shape']] @ rot.T * r + (cx, cy)
            pts = np.round((pts - 0.5) * scale).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, _SHIFT)
        return mask.view(bool)

    def _texture_dark(self, obj: dict) -> Optional[np.ndarray]:
        """Where the darker shade goes (bool HxW), or None for plain."""
        if obj['texture'] == 'plain':
            return None
        xx, yy = self._pixel_grid
        t = math.radians(obj['texture_angle'])
        p = obj['texture_period']
        u = (xx * math.cos(t) + yy * math.sin(t)) / p
        u += obj['texture_phase']
        if obj['texture'] == 'striped':
            return (u - np.floor(u)) < 0.5
        v = (-xx * math.sin(t) + yy * math.cos(t)) / p
        du = u - np.floor(u) - 0.5
        dv = v - np.floor(v) - 0.5
        return du * du + dv * dv < 0.09  # dots of radius 0.3 period

    def object_colour(self, obj: dict) -> np.ndarray:
        """The plain (not darkened) BGR colour of an object, float32."""
        rgb = np.array(COLOUR_RGB[obj['colour']], np.float32)
        rgb = rgb * obj['brightness'] + np.array(obj['colour_jitter'],
                                                 np.float32)
        return np.clip(rgb[::-1], 0, 255)

    def render(self, scene: dict) -> dict:
        """Render a scene (a pure function of the scene).

        Args:
            scene (dict): A scene from :meth:`sample_scene`.

        Returns:
            dict: ``img`` (HxWx3 uint8, **BGR**), ``masks`` (NxHxW bool,
            visible part of each object, in ``scene['objects']`` order),
            ``bboxes`` (Nx4 float32 ``x1, y1, x2, y2``, tight around the
            visible mask, x2/y2 exclusive; zeros if fully occluded) and
            ``labels`` (N int64, index in ``classes('all')``).
        """
        s = scene['image_size']
        if s != self.image_size:
            raise ValueError(f'scene of size {s} rendered by a world of size '
                             f'{self.image_size}')
        xx, yy = self._pixel_grid
        bg = scene['background']
        base = bg['grey'] + np.array(bg['tint'], np.float32)[::-1]
        gx, gy = bg['gradient']
        ramp = (xx - s / 2) * (gx / s) + (yy - s / 2) * (gy / s)
        img = np.empty((s, s, 3), np.float32)
        img[...] = base
        img += ramp[..., None]
        scale = 1 << _SHIFT
        for item in bg['clutter']:
            colour = tuple(item['colour'][::-1])
            th = item['thickness']
            if item['kind'] in ('line', 'rect'):
                x1, y1, x2, y2 = (int(round(v * scale)) for v in item['pts'])
                draw = cv2.line if item['kind'] == 'line' else cv2.rectangle
                draw(img, (x1, y1), (x2, y2), colour, th, cv2.LINE_AA, _SHIFT)
            else:
                cx, cy = (int(round(v * scale)) for v in item['center'])
                r = int(round(item['radius'] * scale))
                cv2.circle(img, (cx, cy), r, colour,
                           -1 if item['kind'] == 'blob' else th, cv2.LINE_AA,
                           _SHIFT)
        objects = scene['objects']
        order = scene.get('draw_order', range(len(objects)))
        full = [None] * len(objects)
        for i in order:
            obj = objects[i]
            m = self._object_mask(obj)
            full[i] = m
            colour = self.object_colour(obj)
            img[m] = colour
            dark = self._texture_dark(obj)
            if dark is not None:
                img[m & dark] = colour * _DARK
        # sensor noise: difference of two uniform bytes (triangular, close
        # to Gaussian, std ~104.5 before scaling; 5x faster than normal)
        n = s * s * 3
        raw = np.frombuffer(
            np.random.default_rng(bg['noise_seed']).bytes(2 * n), np.uint8)
        noise = raw[:n].astype(np.float32) - raw[n:]
        img += noise.reshape(s, s, 3) * np.float32(bg['noise_std'] / 104.5)
        np.clip(img, 0, 255, out=img)
        out = np.rint(img).astype(np.uint8)
        # visible masks: remove what later-drawn objects cover
        masks = np.zeros((len(objects), s, s), bool)
        covered = np.zeros((s, s), bool)
        for i in reversed(list(order)):
            masks[i] = full[i] & ~covered
            covered |= full[i]
        bboxes = np.zeros((len(objects), 4), np.float32)
        for i, m in enumerate(masks):
            ys = np.flatnonzero(m.any(1))
            xs = np.flatnonzero(m.any(0))
            if len(xs):
                bboxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
        labels = np.array([o['class_id'] for o in objects], np.int64)
        return dict(img=out, masks=masks, bboxes=bboxes, labels=labels)
