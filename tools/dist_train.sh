#!/usr/bin/env bash
# Multi-process training on one or more nodes (as mmpretrain's dist_train.sh,
# with `python -m torch.distributed.run`: tools/dist_run.sh).
#
#   bash tools/dist_train.sh CONFIG NPROC [train.py args...]
#
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR; PYTHON (default: the
# repository's .venv/bin/python if it exists, else python).
# On a machine without CUDA, train.py switches to gloo and CPU DDP by itself.

CONFIG=$1
GPUS=$2
bash "$(dirname "$0")/dist_run.sh" train.py $GPUS \
    $CONFIG \
    --launcher pytorch ${@:3}
