"""Image loading that tells a bad image from a good one.

mmcv's ``LoadImageFromFile`` raises a bare ``AssertionError`` on an image
it cannot decode, and an exception of any type on a missing file. The
loaders here raise :class:`BadSampleError` (with the reason and the path)
for every defect of the *data* -- missing, empty, truncated or undecodable
file -- so that datasets can skip and count such samples while a defect of
the *code or config* (any other exception) still stops the run.
"""
import io
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from icar_mm.registry import TRANSFORMS


class BadSampleError(Exception):
    """A sample whose data is unusable (not a bug in the code or config).

    Args:
        reason (str): A short, stable reason used as the counter name, e.g.
            ``'bad_image'``, ``'empty_caption'``, ``'missing_file'``.
        key (str): Where the sample lives (a path, ``url#key``...).
        detail (str): Free-form explanation.
    """

    def __init__(self, reason: str, key: str = '', detail: str = '') -> None:
        self.reason = reason
        self.key = key
        self.detail = detail
        super().__init__(f'{reason}: {key}' + (f' ({detail})' if detail
                                               else ''))


def decode_image(data: bytes,
                 key: str = '',
                 backend: str = 'cv2',
                 color_type: str = 'color',
                 channel_order: str = 'bgr') -> np.ndarray:
    """Decode image bytes strictly.

    OpenCV >= 5 (and Pillow, which is asked not to tolerate truncation)
    reject a truncated JPEG or PNG instead of returning a half-grey image.

    Args:
        data (bytes): The encoded image.
        key (str): Name of the sample, for the error message.
        backend (str): ``'cv2'`` or ``'pillow'`` (any mmcv backend).
        color_type (str): mmcv ``flag``. Defaults to ``'color'``.
        channel_order (str): ``'bgr'`` (mmcv's convention) or ``'rgb'``.

    Returns:
        np.ndarray: The image, ``(H, W, 3)`` uint8 for colour images.

    Raises:
        BadSampleError: Empty, truncated or undecodable data.
    """
    if not data:
        raise BadSampleError('bad_image', key, 'empty file')
    try:
        if backend == 'pillow':
            from PIL import Image, ImageFile
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            with Image.open(io.BytesIO(data)) as pil:
                pil.load()
                img = mmcv.image.io._pillow2array(pil, color_type,
                                                  channel_order)
        else:
            img = mmcv.imfrombytes(
                data,
                flag=color_type,
                channel_order=channel_order,
                backend=backend)
    except Exception as e:  # decoder errors: the bytes are bad
        raise BadSampleError('bad_image', key,
                             f'{type(e).__name__}: {e}') from None
    if img is None or img.size == 0:
        raise BadSampleError('bad_image', key,
                             'truncated or not an image')
    return img


@TRANSFORMS.register_module()
class LoadImageChecked(BaseTransform):
    """Load an image from ``img_path`` (or ``img_bytes``), strictly.

    A drop-in replacement of ``LoadImageFromFile`` for training data that
    may hold bad files: a missing, empty, truncated or undecodable image
    raises :class:`BadSampleError`, which the icar_mm datasets count and
    skip (see ``skip_bad_samples``). When ``results`` already carries the
    encoded bytes (``img_bytes``, e.g. from a webdataset shard), no file is
    read.

    Required keys: ``img_path`` or ``img_bytes``.
    Added keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        to_float32 (bool): Convert to float32. Defaults to False.
        color_type (str): mmcv ``flag``. Defaults to ``'color'``.
        imdecode_backend (str): ``'cv2'`` (default) or ``'pillow'``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        key = str(results.get('img_path', ''))
        data = results.pop('img_bytes', None)
        if data is None:
            try:
                data = fileio.get(key, backend_args=self.backend_args)
            except FileNotFoundError:
                raise BadSampleError('missing_file', key) from None
            except (IsADirectoryError, PermissionError) as e:
                raise BadSampleError('missing_file', key, str(e)) from None
        img = decode_image(data, key, self.imdecode_backend, self.color_type)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}')")
