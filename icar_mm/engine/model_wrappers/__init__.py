from .feature_cache_ddp import FeatureCacheDistributedDataParallel

__all__ = ['FeatureCacheDistributedDataParallel']
