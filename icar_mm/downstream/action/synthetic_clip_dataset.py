"""mmaction2 dataset of synthetic-world clips rendered in memory."""
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from icar_mm.datasets.synthetic_world.clips import (CLIP_SPLITS,
                                                    SyntheticWorldClips,
                                                    clip_class_texts)


@DATASETS.register_module()
class SyntheticWorldClipDataset(BaseActionDataset):
    """Clips of :class:`SyntheticWorldClips`, rendered when loaded.

    Each item has ``imgs`` (a list of ``T`` BGR frames), ``label``,
    ``num_clips=1`` and ``clip_len=T``: the pipeline starts at
    ``FormatShape`` (no decoding, no files). For the same clips as files,
    see :meth:`SyntheticWorldClips.export_rawframes` and mmaction2's
    ``RawframeDataset``.

    Args:
        split (str): ``'train'``, ``'val'`` (base classes) or ``'novel'``.
        num_clips (int): Number of clips (classes cycle with the index).
        pipeline (Sequence): Transforms, e.g. ``FormatShape`` then
            ``PackActionInputs``.
        clips (dict, optional): :class:`SyntheticWorldClips` kwargs
            (``num_frames``, ``image_size``, ``seed``). Defaults to None.
        **kwargs: Other :class:`BaseActionDataset` arguments.
    """

    def __init__(self,
                 split: str,
                 num_clips: int,
                 pipeline: Sequence[Union[Dict, Callable]],
                 clips: Optional[Dict] = None,
                 **kwargs) -> None:
        if split not in CLIP_SPLITS:
            raise ValueError(f'split must be one of {list(CLIP_SPLITS)}, got '
                             f'{split!r}')
        self.split = split
        self.num_clips = int(num_clips)
        self.clips = SyntheticWorldClips(**(clips or {}))
        names = tuple(c['name'] for c in clip_class_texts(split))
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=names)
        super().__init__(
            ann_file='', pipeline=pipeline, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[Dict]:
        """One entry per clip: its index (rendering happens on access)."""
        return [
            dict(clip_index=i, label=i % len(self.metainfo['classes']))
            for i in range(self.num_clips)
        ]

    def get_data_info(self, idx: int) -> Dict:
        info = super().get_data_info(idx)
        frames, label = self.clips.sample(self.split, info['clip_index'])
        assert label == info['label']
        h, w = frames.shape[1:3]
        info.update(
            imgs=list(frames),
            num_clips=1,
            clip_len=len(frames),
            frame_inds=list(range(len(frames))),
            img_shape=(h, w),
            original_shape=(h, w))
        return info
