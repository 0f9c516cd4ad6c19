"""All-gather that carries gradients, for tensors of unequal first dims."""
from typing import List, Tuple

import torch
import torch.distributed as dist
from mmengine.dist import get_world_size, is_distributed


def _gather_sizes(n: int, device: torch.device) -> List[int]:
    size = torch.tensor([n], device=device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


class _AllGatherWithGrad(torch.autograd.Function):
    """Forward: concatenate every rank's rows; backward: reduce, keep ours."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        sizes = _gather_sizes(tensor.shape[0], tensor.device)
        width = max(sizes)
        padded = tensor.new_zeros((width, *tensor.shape[1:]))
        padded[:tensor.shape[0]] = tensor
        chunks = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(chunks, padded.contiguous())
        ctx.sizes = sizes
        ctx.rank = dist.get_rank()
        return torch.cat([c[:s] for c, s in zip(chunks, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[torch.Tensor]:
        # Every rank's loss may depend on our rows: sum their gradients.
        start = sum(ctx.sizes[:ctx.rank])
        if dist.get_backend() == dist.Backend.NCCL and len(set(
                ctx.sizes)) == 1:
            grad = grad.contiguous()
            out = grad.new_empty((ctx.sizes[ctx.rank], *grad.shape[1:]))
            dist.reduce_scatter_tensor(out, grad)
            return out
        # Reduce a copy: the incoming gradient may be the very tensor that
        # autograd also hands to another branch of the graph (e.g. the other
        # input of an addition); reducing it in place would corrupt that
        # branch's gradient.
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad[start:start + ctx.sizes[ctx.rank]]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, keeping autograd.

    The backward pass sums, over ranks, the gradient each rank's loss sends
    to this rank's rows, so that with DDP's gradient averaging the update
    equals that of the loss computed on the global batch in one process.
    Ranks may hold different numbers of rows. Without an initialised process
    group (or with one process) the tensor is returned unchanged.

    Args:
        tensor (Tensor): ``(n_rank, ...)`` local rows.

    Returns:
        Tensor: ``(sum n_rank, ...)`` rows in rank order.
    """
    if not is_distributed() or get_world_size() == 1:
        return tensor
    return _AllGatherWithGrad.apply(tensor)


@torch.no_grad()
def all_gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """:func:`all_gather_with_grad` without autograd (labels, eval)."""
    if not is_distributed() or get_world_size() == 1:
        return tensor
    return _AllGatherWithGrad.apply(tensor.detach())


def rank_offset(n: int, device: torch.device) -> int:
    """Index of this rank's first row in the rank-ordered gathered rows.

    Args:
        n (int): Rows on this rank.
        device (torch.device): Device for the size exchange (CUDA for NCCL).

    Returns:
        int: The number of rows held by lower ranks.
    """
    if not is_distributed() or get_world_size() == 1:
        return 0
    return sum(_gather_sizes(n, device)[:dist.get_rank()])


def rank_slice(total: int) -> slice:
    """This rank's contiguous share of ``total`` items (sizes differ by <= 1).

    Args:
        total (int): Number of items to split across ranks.

    Returns:
        slice: The items this rank owns.
    """
    if not is_distributed():
        return slice(0, total)
    world, rank = dist.get_world_size(), dist.get_rank()
    base, extra = divmod(total, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))
