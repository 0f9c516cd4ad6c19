"""Zero-shot benchmark datasets: ImageNet-1K and Kornblith-12.

mmpretrain's dataset classes serve every benchmark except Birdsnap
(:class:`Birdsnap`, written here) and CIFAR (thin subclasses that never
download and can skip the checksum check); :data:`BENCHMARKS` says where
each lives, which metric it reports and which CLIP names and templates it
uses.
"""
from .birdsnap import Birdsnap, clip_birdsnap_name
from .cifar import CIFAR10Benchmark, CIFAR100Benchmark
from .clip_prompts import CLASSNAMES, TEMPLATES
from .descriptions import benchmark_class_texts, wordnet_gloss
from .registry import (BENCHMARKS, KORNBLITH12, BenchmarkSpec, get_benchmark,
                       resolve_benchmarks)

__all__ = [
    'Birdsnap', 'clip_birdsnap_name', 'CIFAR10Benchmark', 'CIFAR100Benchmark',
    'CLASSNAMES', 'TEMPLATES', 'benchmark_class_texts', 'wordnet_gloss',
    'BENCHMARKS', 'KORNBLITH12', 'BenchmarkSpec', 'get_benchmark',
    'resolve_benchmarks'
]

# CLIP's per-dataset template sets, resolvable by name in any config:
# ``templates='clip-food101'`` (``'imagenet'`` is already CLIP's 80).
from icar_mm.models.text.templates import TEMPLATES as _TEMPLATE_SETS  # noqa

for _name, _templates in TEMPLATES.items():
    _TEMPLATE_SETS.setdefault(f'clip-{_name}', list(_templates))

from .karpathy import KarpathyRetrievalDataset  # noqa: E402

__all__ += ['KarpathyRetrievalDataset']
