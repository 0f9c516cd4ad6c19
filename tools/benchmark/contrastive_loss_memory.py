"""Peak memory of the contrastive loss across ranks: local vs full logits.

Runs a forward + backward of the image-text contrastive loss on 2 CPU ranks
(gloo) with ``--batch`` pairs per rank, for:

* ``icar_mm``: :class:`icar_mm.models.ContrastiveLoss` (local loss +
  gather-with-grad: each rank holds ``n x N`` logits);
* ``open_clip_local``: OpenCLIP's ``ClipLoss(local_loss=True,
  gather_with_grad=True)``, the same method in the peer;
* ``open_clip_full``: OpenCLIP's ``ClipLoss(local_loss=False,
  gather_with_grad=True)``, the naive full gather (``N x N`` logits on every
  rank).

Each variant runs in a fresh pair of processes; the peak is the growth of
the process' resident-set high-water mark (``ru_maxrss``) during the step,
the largest over ranks. Writes JSON and prints ratios against the naive
full gather and against OpenCLIP's local loss.

    python tools/benchmark/contrastive_loss_memory.py --batch 4096 \
        --json tools/benchmark/results/contrastive_loss_memory.json
"""
import argparse
import json
import os
import os.path as osp
import resource
import socket
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import machine, write_report  # noqa: E402
VARIANTS = ('icar_mm', 'open_clip_local', 'open_clip_full')


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


def _worker(rank: int, port: int, variant: str, batch: int, dim: int,
            out_dir: str) -> None:
    sys.path.insert(0, REPO)
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    import icar_mm  # noqa: F401  (stack fixes before open_clip)
    from icar_mm.models import ContrastiveLoss
    g = torch.Generator().manual_seed(rank)
    images = torch.nn.functional.normalize(
        torch.randn(batch, dim, generator=g), dim=-1).requires_grad_()
    texts = torch.nn.functional.normalize(
        torch.randn(batch, dim, generator=g), dim=-1).requires_grad_()
    if variant == 'icar_mm':
        loss_module = ContrastiveLoss()

        def step():
            return loss_module(images, texts)['loss_itc']
    else:
        from open_clip.loss import ClipLoss
        loss_module = ClipLoss(
            local_loss=variant == 'open_clip_local',
            gather_with_grad=True,
            rank=rank,
            world_size=2)
        scale = torch.tensor(1 / 0.07, requires_grad=True)

        def step():
            return loss_module(images, texts, scale)

    dist.barrier()
    before = _maxrss_mb()
    start = time.perf_counter()
    loss = step()
    loss.backward()
    seconds = time.perf_counter() - start
    peak = _maxrss_mb() - before
    with open(osp.join(out_dir, f'{variant}.{rank}.json'), 'w') as f:
        json.dump(
            dict(peak_mb=peak, seconds=seconds, loss=float(loss.detach())),
            f)
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=4096,
                        help='pairs per rank')
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as out_dir:
        for variant in VARIANTS:
            mp.spawn(
                _worker,
                args=(_free_port(), variant, args.batch, args.dim, out_dir),
                nprocs=2)
            ranks = [
                json.load(open(osp.join(out_dir, f'{variant}.{r}.json')))
                for r in range(2)
            ]
            results[variant] = dict(
                peak_mb=max(r['peak_mb'] for r in ranks),
                seconds=max(r['seconds'] for r in ranks),
                loss=ranks[0]['loss'])
    full = results['open_clip_full']['peak_mb']
    local = results['open_clip_local']['peak_mb']
    report = dict(
        machine=dict(machine(), world_size=2, backend='gloo'),
        batch_per_rank=args.batch,
        global_batch=2 * args.batch,
        dim=args.dim,
        results=results,
        ratios=dict(
            icar_mm_vs_full_gather=results['icar_mm']['peak_mb'] / full,
            icar_mm_vs_open_clip_local=results['icar_mm']['peak_mb'] / local))
    for name, r in results.items():
        print(f'{name:16s} peak +{r["peak_mb"]:8.1f} MB  '
              f'{r["seconds"]:6.2f} s  loss {r["loss"]:.4f}')
    for name, value in report['ratios'].items():
        print(f'{name}: {value:.2f}x memory')
    write_report(args.json, report)


if __name__ == '__main__':
    main()
