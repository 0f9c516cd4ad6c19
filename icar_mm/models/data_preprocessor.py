"""Normalise and batch the two streams of an iCAR iteration."""
from typing import Dict

from mmpretrain.models.utils import ClsDataPreprocessor

from icar_mm.registry import MODELS


@MODELS.register_module()
class TwoStreamDataPreprocessor(ClsDataPreprocessor):
    """:class:`ClsDataPreprocessor` applied to each stream of a batch.

    A training batch is ``dict(cls=batch, itc=batch)`` (either may be
    absent); each stream is normalised and stacked like an mmpretrain batch,
    and the result is ``dict(inputs=dict(cls=..., itc=...),
    data_samples=dict(cls=..., itc=...))``. Batch augmentations (Mixup,
    CutMix) apply to the image-label stream only. An ordinary single-stream
    batch (validation, test) is processed as by the parent class.

    Args:
        **kwargs: Arguments of :class:`ClsDataPreprocessor` (``mean``,
            ``std``, ``to_rgb``, ``batch_augments``...).
    """

    def forward(self, data: Dict, training: bool = False) -> Dict:
        if 'inputs' in data:
            return super().forward(data, training)
        unknown = set(data) - {'cls', 'itc'}
        if unknown:
            raise KeyError(f'Unknown stream(s) {sorted(unknown)} in the '
                           'batch; expected "cls" and/or "itc".')
        out = {
            name: super(TwoStreamDataPreprocessor, self).forward(
                batch, training and name == 'cls')
            for name, batch in data.items() if batch is not None
        }
        return dict(
            inputs={k: v['inputs']
                    for k, v in out.items()},
            data_samples={k: v['data_samples']
                          for k, v in out.items()})
