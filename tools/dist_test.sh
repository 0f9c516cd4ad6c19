#!/usr/bin/env bash
# Multi-process testing on one or more nodes (as mmpretrain's dist_test.sh,
# with `python -m torch.distributed.run`: tools/dist_run.sh).
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
#
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR; PYTHON (default: the
# repository's .venv/bin/python if it exists, else python).
# On a machine without CUDA, test.py switches to gloo and CPU DDP by itself.

CONFIG=$1
CHECKPOINT=$2
GPUS=$3
bash "$(dirname "$0")/dist_run.sh" test.py $GPUS \
    $CONFIG \
    $CHECKPOINT \
    --launcher pytorch \
    ${@:4}
