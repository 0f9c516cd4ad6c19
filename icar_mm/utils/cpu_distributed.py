"""Make mmengine's distributed defaults work on machines without CUDA."""
import torch
from mmengine.config import Config


def adapt_distributed_cfg_to_cpu(cfg: Config) -> bool:
    """Use gloo and a device-less DDP wrapper when CUDA is absent.

    mmengine's defaults assume GPUs: ``dist_cfg.backend='nccl'`` and
    ``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``, which torch
    refuses for CPU modules. On a machine without CUDA this switches the
    backend to gloo and wraps the model with ``device_ids=None``, so
    ``tools/dist_train.sh CONFIG 2`` runs on CPUs (tests, debugging). A
    no-op where CUDA is available.

    Args:
        cfg (Config): The config, changed in place.

    Returns:
        bool: Whether anything was changed.
    """
    if torch.cuda.is_available():
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    changed = dist_cfg.get('backend', 'nccl') == 'nccl'
    dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper.get('type', 'MMDistributedDataParallel') in (
            'MMDistributedDataParallel', 'MMSeparateDistributedDataParallel',
            'FeatureCacheDistributedDataParallel'):
        changed = changed or 'device_ids' not in wrapper
        wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return changed


def init_cpu_process_group(launcher: str) -> bool:
    """Start the gloo process group for ``--launcher pytorch`` without CUDA.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``,
    which a CPU-only torch lacks; started here from torchrun's environment
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``), the Runner
    finds the group initialised and uses it. A no-op with CUDA, without a
    launcher, or when a group exists.

    Args:
        launcher (str): The ``--launcher`` argument.

    Returns:
        bool: Whether a process group was started.
    """
    import torch.distributed as dist
    if (launcher != 'pytorch' or torch.cuda.is_available()
            or dist.is_initialized()):
        return False
    dist.init_process_group(backend='gloo', init_method='env://')
    return True
