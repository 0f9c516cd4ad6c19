"""Zero-shot benchmark datasets: ImageNet-1K and Kornblith-12.

mmpretrain's dataset classes serve every benchmark except Birdsnap
(:class:`Birdsnap`, written here) and CIFAR (thin subclasses that never
download and can skip the checksum check); :data:`BENCHMARKS` says where
each lives, which metric it reports and which CLIP names and templates it
uses (:mod:`icar_mm.class_texts.clip_prompts`; the template sets are
``templates='clip-<benchmark>'``).
"""
from .birdsnap import Birdsnap, clip_birdsnap_name
from .cifar import CIFAR10Benchmark, CIFAR100Benchmark
from .karpathy import KarpathyRetrievalDataset
from .registry import (BENCHMARKS, KORNBLITH12, BenchmarkSpec, get_benchmark,
                       resolve_benchmarks)

__all__ = [
    'Birdsnap', 'clip_birdsnap_name', 'CIFAR10Benchmark', 'CIFAR100Benchmark',
    'BENCHMARKS', 'KORNBLITH12', 'BenchmarkSpec', 'get_benchmark',
    'resolve_benchmarks', 'KarpathyRetrievalDataset'
]
