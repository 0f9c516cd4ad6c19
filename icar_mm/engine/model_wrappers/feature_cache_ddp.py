"""DDP whose train step can accumulate with a feature cache."""
from typing import Dict

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
# the root registry: mmengine's Runner.wrap_model looks wrappers up there
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class FeatureCacheDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for models with ``accum_freq > 1``.

    ``MMDistributedDataParallel.train_step`` runs one forward and one
    backward itself, so a model's own ``train_step`` never runs under it.
    This wrapper hands the step to the model's ``train_step`` with itself
    as ``ddp`` when the model accumulates with a feature cache
    (:func:`icar_mm.models.utils.feature_cache.feature_cache_step`), and
    behaves as the parent otherwise. Parameters that only the loss uses
    (heads, temperatures) are not in the graph of the final, synced
    micro-batch backward, so ``find_unused_parameters`` is always on; their
    gradients, accumulated under ``no_sync``, are all-reduced with the rest.

    Args:
        module (nn.Module): The model.
        **kwargs: Arguments of ``MMDistributedDataParallel``.
    """

    def __init__(self, module, **kwargs) -> None:
        kwargs['find_unused_parameters'] = True
        super().__init__(module=module, **kwargs)

    def train_step(self, data, optim_wrapper: OptimWrapper
                   ) -> Dict[str, torch.Tensor]:
        if getattr(self.module, 'accum_freq', 1) > 1:
            return self.module.train_step(data, optim_wrapper, ddp=self)
        return super().train_step(data, optim_wrapper)
