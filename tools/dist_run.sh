#!/usr/bin/env bash
# What dist_train.sh and dist_test.sh share: run a tool of tools/ in NPROC
# processes per node with `python -m torch.distributed.run`.
#
#   bash tools/dist_run.sh TOOL NPROC [tool args...]
#
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR; PYTHON (default: the
# repository's .venv/bin/python if it exists, else python).

TOOL=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$ROOT/tools/$TOOL" \
    ${@:3}
