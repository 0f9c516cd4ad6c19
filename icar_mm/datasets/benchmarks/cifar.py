"""CIFAR-10/100 whose checksum check can be turned off (small test copies)."""
from mmpretrain.datasets import CIFAR10, CIFAR100

from icar_mm.registry import DATASETS


class _NoDownloadMixin:

    def __init__(self, *args, verify_md5: bool = True, **kwargs):
        self.verify_md5 = verify_md5
        kwargs.setdefault('download', False)
        super().__init__(*args, **kwargs)

    def _check_integrity(self) -> bool:
        if self.verify_md5:
            return super()._check_integrity()
        import os.path as osp
        root = self.data_prefix['root']
        return all(
            osp.isfile(osp.join(root, self.base_folder, name))
            for name, _ in self.train_list + self.test_list)


@DATASETS.register_module()
class CIFAR10Benchmark(_NoDownloadMixin, CIFAR10):
    """mmpretrain's :class:`CIFAR10` (``cifar-10-batches-py/`` python
    pickles under ``data_root``), never downloading, with ``verify_md5``."""


@DATASETS.register_module()
class CIFAR100Benchmark(_NoDownloadMixin, CIFAR100):
    """mmpretrain's :class:`CIFAR100` (``cifar-100-python/``), never
    downloading, with ``verify_md5``."""
