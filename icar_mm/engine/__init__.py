from .hooks import *  # noqa: F401,F403
from .model_wrappers import *  # noqa: F401,F403
from .bf16_gemm_in_float32 import BF16GemmInFloat32  # noqa: F401
from .optim_wrappers import CPUBF16AmpOptimWrapper  # noqa: F401
from .runner import *  # noqa: F401,F403
