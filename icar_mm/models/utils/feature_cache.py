"""Contrastive-correct gradient accumulation with a feature cache.

A contrastive loss couples every sample of the batch with every other, so
summing the losses of ``k`` micro-batches (mmengine's
``accumulative_counts``) is not the loss of the accumulated batch: each
micro-batch only sees ``1 / k`` of the negatives. The feature-cache method
(OpenCLIP's ``--accum-freq``; Gao et al., "Scaling Deep Contrastive Learning
Batch Size under Memory Limited Setup", 2021) gives the gradients of the
full batch with the activation memory of one micro-batch:

1. a no-grad pass over the ``k`` micro-batches caches their
   representations (image and text embeddings) and each one's RNG state;
2. the loss of the full batch is computed from the cached representations
   (as leaves) and back-propagated: this gives the gradients of the loss's
   own parameters (classifier weights from the text encoder, temperatures,
   heads) and of every cached representation;
3. each micro-batch is encoded again, with gradient and its recorded RNG
   state (same dropout), and ``sum(representation * its gradient)`` is
   back-propagated into the towers.

Unlike OpenCLIP's loop, which recomputes the full loss ``k`` times and so
accumulates the loss parameters' gradients (e.g. the logit scale's) ``k``
times, the loss runs once. Under DDP every backward but the last runs in
``no_sync`` and the last micro-batch goes through the DDP forward, so one
all-reduce averages the accumulated gradients.

Layers coupling the samples of a batch (BatchNorm in training mode) still
see micro-batches; exactness needs batch-independent layers.
"""
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

Representations = Dict[str, torch.Tensor]


def _rng_state() -> tuple:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available(
    ) else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def split_streams(inputs: Dict[str, torch.Tensor],
                  data_samples: Dict[str, list],
                  num_chunks: int) -> List[Tuple[dict, dict]]:
    """Split every stream of a batch into ``num_chunks`` equal parts.

    Args:
        inputs (dict): Stream name -> ``(N, ...)`` batch (None: absent).
        data_samples (dict): Stream name -> list of ``N`` samples.
        num_chunks (int): Number of micro-batches.

    Returns:
        list[tuple]: ``(inputs, data_samples)`` of each micro-batch.
    """
    chunks = [({}, {}) for _ in range(num_chunks)]
    for name, batch in inputs.items():
        if batch is None:
            continue
        if batch.shape[0] % num_chunks:
            raise ValueError(
                f'Feature-cache accumulation splits each batch into '
                f'accum_freq={num_chunks} micro-batches, but the '
                f'{name!r} batch has {batch.shape[0]} samples. Make the '
                f'batch size of train_dataloader.{name} a multiple of '
                f'{num_chunks}.')
        size = batch.shape[0] // num_chunks
        samples = data_samples.get(name)
        for i, (chunk_inputs, chunk_samples) in enumerate(chunks):
            chunk_inputs[name] = batch[i * size:(i + 1) * size]
            if samples is not None:
                chunk_samples[name] = samples[i * size:(i + 1) * size]
    return chunks


def feature_cache_step(
    model: nn.Module,
    chunks: Sequence[Tuple[dict, dict]],
    compute_loss: Callable[[Representations], torch.Tensor],
    optim_wrapper,
    ddp: Optional[nn.Module] = None,
) -> None:
    """Accumulate the gradients of the full batch over micro-batches.

    Args:
        model (nn.Module): Has ``representations(inputs, data_samples)``
            returning a dict of ``(n, ...)`` tensors.
        chunks (Sequence[tuple]): ``(inputs, data_samples)`` per
            micro-batch (see :func:`split_streams`).
        compute_loss (Callable): Maps the concatenated representations of
            the full batch to the scalar loss.
        optim_wrapper (OptimWrapper): Gives the autocast context and the
            (loss-scaling) backward. Stepping is left to the caller.
        ddp (nn.Module, optional): The DDP wrapper of ``model``.
    """
    states, cached = [], []
    with torch.no_grad():
        for inputs, data_samples in chunks:
            states.append(_rng_state())
            with optim_wrapper.optim_context(model):
                cached.append(model.representations(inputs, data_samples))
    leaves = {
        name: torch.cat([c[name] for c in cached]).detach().requires_grad_()
        for name in cached[0]
    }
    no_sync = ddp.no_sync if ddp is not None else nullcontext
    with no_sync():
        with optim_wrapper.optim_context(model):
            loss = compute_loss(leaves)
        # scales the loss under fp16 AMP; the representations' gradients
        # carry that scale into the towers' backward below
        optim_wrapper.backward(loss)
    after = _rng_state()
    grads = {
        name: leaf.grad.split([c[name].shape[0] for c in cached])
        for name, leaf in leaves.items()
    }
    for i, (inputs, data_samples) in enumerate(chunks):
        _set_rng_state(states[i])
        last = i == len(chunks) - 1
        with (nullcontext() if last else no_sync()):
            with optim_wrapper.optim_context(model):
                if ddp is not None and last:
                    # the synced backward must follow a DDP forward
                    reps = ddp(inputs, data_samples, mode='representations')
                else:
                    reps = model.representations(inputs, data_samples)
            terms = [(reps[name].float() * grads[name][i].float()).sum()
                     for name in grads if reps[name].requires_grad]
            if terms:  # else both towers are frozen
                # the wrapper's matmul kernels (CPU bfloat16 without
                # native support: BF16GemmInFloat32) for this backward too
                with getattr(optim_wrapper, 'gemm_context', nullcontext)():
                    torch.stack(terms).sum().backward()
    _set_rng_state(after)
