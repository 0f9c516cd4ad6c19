from .data_health_hook import DataHealthHook
from .random_state_hook import RandomStateHook

__all__ = ['DataHealthHook', 'RandomStateHook']
