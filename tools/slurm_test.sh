#!/usr/bin/env bash
# Testing on a Slurm cluster (as mmpretrain's slurm_test.sh; srun in
# tools/slurm_run.sh).
#
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
#
# Environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS;
# PYTHON (default: the repository's .venv/bin/python if it exists, else python).

CONFIG=$3
CHECKPOINT=$4
PY_ARGS=${@:5}
bash "$(dirname "$0")/slurm_run.sh" test.py $1 $2 \
    ${CONFIG} ${CHECKPOINT} --launcher="slurm" ${PY_ARGS}
