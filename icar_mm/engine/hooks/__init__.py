from .checkpoint_keys_hook import CheckpointKeysHook
from .data_health_hook import DataHealthHook
from .random_state_hook import RandomStateHook
from .run_summary_hook import RunSummaryHook

__all__ = [
    'CheckpointKeysHook', 'DataHealthHook', 'RandomStateHook',
    'RunSummaryHook'
]
