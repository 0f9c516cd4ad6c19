"""Run a function in a CPU process group (gloo) of spawned processes.

Usage from a test module::

    results = run_distributed(__file__, 'my_worker', world_size=2,
                              args=(...,))

``my_worker(rank, world_size, *args)`` is a top-level function of the test
module; it runs in every spawned process after ``init_process_group``
and its (picklable, ``torch.save``-able) return value comes back, one per
rank, in rank order. The worker is located by file path and name, so it does
not matter how pytest imported the test module; the spawned processes get
the parent's ``sys.path`` (multiprocessing's spawn start method copies it).
"""
import gc
import importlib.util
import os
import os.path as osp
import socket
import sys
import tempfile
import traceback
from typing import Any, List, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def find_free_port() -> int:
    """A TCP port that was free a moment ago (bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def load_from_file(module_file: str, name: str):
    """``name`` of the module at ``module_file``, imported by its path
    (whatever is on ``sys.path``)."""
    module_name = '_dist_worker_' + osp.splitext(osp.basename(module_file))[0]
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name,
                                                      module_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return getattr(module, name)


def _entry(rank: int, world_size: int, port: int, module_file: str,
           name: str, args: Sequence[Any], out_dir: str) -> None:
    torch.set_num_threads(1)
    if _REPO_ROOT not in sys.path:
        sys.path.insert(0, _REPO_ROOT)
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    dist.init_process_group(
        'gloo', rank=rank, world_size=world_size, init_method='env://')
    try:
        result = load_from_file(module_file, name)(rank, world_size, *args)
        torch.save(result, osp.join(out_dir, f'rank{rank}.pt'))
    except BaseException:
        with open(osp.join(out_dir, f'rank{rank}.err'), 'w') as f:
            f.write(traceback.format_exc())
        raise
    finally:
        # a worker's DDP model (its reducer) in a reference cycle still holds
        # the gloo group: free it first, or the group's threads outlive
        # destroy_process_group and are torn down at exit ("terminate called
        # without an active exception", SIGABRT: 7 of 15 runs of the
        # feature-cache DDP test on an idle 2-core machine, torch 2.13)
        gc.collect()
        dist.destroy_process_group()


def run_distributed(module_file: str,
                    name: str,
                    world_size: int = 2,
                    args: Sequence[Any] = ()) -> List[Any]:
    """Run ``name`` of ``module_file`` on ``world_size`` gloo ranks.

    Args:
        module_file (str): Path of the module defining the worker.
        name (str): The worker function's name.
        world_size (int): Number of processes. Defaults to 2.
        args (Sequence): Extra arguments (picklable) after rank, world size.

    Returns:
        list: The worker's return values in rank order.
    """
    with tempfile.TemporaryDirectory() as out_dir:
        try:
            mp.spawn(
                _entry,
                args=(world_size, find_free_port(), osp.abspath(module_file),
                      name, tuple(args), out_dir),
                nprocs=world_size,
                join=True)
        except Exception as e:
            errors = [
                open(osp.join(out_dir, f)).read()
                for f in sorted(os.listdir(out_dir)) if f.endswith('.err')
            ]
            raise RuntimeError(f'Distributed worker {name!r} failed:\n' +
                               '\n'.join(errors)) from e
        return [
            torch.load(
                osp.join(out_dir, f'rank{r}.pt'), weights_only=False)
            for r in range(world_size)
        ]
