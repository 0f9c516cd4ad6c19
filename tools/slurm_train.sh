#!/usr/bin/env bash
# Training on a Slurm cluster (as mmpretrain's slurm_train.sh; srun in
# tools/slurm_run.sh).
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
#
# Environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS;
# PYTHON (default: the repository's .venv/bin/python if it exists, else python).

CONFIG=$3
WORK_DIR=$4
PY_ARGS=${@:5}
bash "$(dirname "$0")/slurm_run.sh" train.py $1 $2 \
    ${CONFIG} --work-dir=${WORK_DIR} --launcher="slurm" ${PY_ARGS}
