#!/usr/bin/env bash
# Idempotent installer of icar_mm for the CPU reference machine
# (Linux x86_64, Python 3.11, no GPU).
#
#   bash tools/install.sh
#
# 1. creates .venv/ in the repository root (python3 -m venv) if missing;
# 2. installs torch==2.13.0 (the +cpu wheel), setuptools and wheel;
# 3. installs the exact lock: pip install --no-deps -r requirements/lock-cpu.txt;
# 4. installs mmcv 2.1.0 WITH CPU ops from a wheel in the wheelhouse
#    (${ICAR_WHEELHOUSE:-$HOME/.cache/icar_mm/wheels}), building it from the
#    PyPI sdist first if there is none (about 5-10 minutes on 2 cores);
# 5. pip install --no-deps -e .
#
# A stamp file in .venv records a hash of the inputs (lock file, setup.py,
# torch and mmcv versions, Python version); when it matches and
# `import mmcv.ops, mmpretrain, icar_mm` works, the pip steps are skipped and
# a re-run takes seconds. Delete .venv/.icar_install_stamp to force them.
#
# Environment:
#   PYTHON            interpreter used to create the venv (default: python3)
#   ICAR_WHEELHOUSE   where the mmcv wheel is kept / built
#   ICAR_TORCH_SPEC   torch requirement (default: torch==2.13.0)
#
# GPU machines: see "Installing on a GPU machine" in README.md instead.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

PYTHON="${PYTHON:-python3}"
VENV="${REPO_ROOT}/.venv"
VPY="${VENV}/bin/python"
LOCK="requirements/lock-cpu.txt"
TORCH_SPEC="${ICAR_TORCH_SPEC:-torch==2.13.0}"
MMCV_VERSION="2.1.0"
WHEELHOUSE="${ICAR_WHEELHOUSE:-${HOME:-/tmp}/.cache/icar_mm/wheels}"
STAMP="${VENV}/.icar_install_stamp"
IMPORT_CHECK="import mmcv.ops, mmpretrain, icar_mm"
START_TS=${SECONDS}

export PIP_DISABLE_PIP_VERSION_CHECK=1

log() {
    echo "[install.sh +$((SECONDS - START_TS))s] $*"
}

die() {
    echo "[install.sh] ERROR: $*" >&2
    exit 1
}

pip_install() {
    "${VPY}" -m pip install --progress-bar off "$@"
}

# Print "name==version" pinned for package $1 in the lock file.
lock_pin() {
    local pin
    pin="$(grep -i -E "^$1==" "${LOCK}" | head -n 1 || true)"
    [[ -n "${pin}" ]] || die "$1 is not pinned in ${LOCK}"
    echo "${pin}"
}

# Whether `import mmcv.ops, mmpretrain, icar_mm` works from outside the repo
# (so the editable install, not the working directory, provides icar_mm).
imports_work() {
    (cd / && "${VPY}" -c "${IMPORT_CHECK}") >/dev/null 2>&1
}

mmcv_with_ops_installed() {
    (cd / && "${VPY}" -c "
import mmcv, mmcv.ops
assert mmcv.__version__ == '${MMCV_VERSION}', mmcv.__version__
") >/dev/null 2>&1
}

# Build the mmcv wheel into the wheelhouse; extra arguments go to pip
# (--no-cache-dir forces a real compile instead of pip's cached build).
build_mmcv_wheel() {
    command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 \
        || die "a C++ compiler (g++) is needed to build mmcv ${MMCV_VERSION} with CPU ops"
    mkdir -p "${WHEELHOUSE}"
    log "building mmcv ${MMCV_VERSION} with CPU ops into ${WHEELHOUSE} (about 5-10 minutes)"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 CFLAGS=-g0 CXXFLAGS=-g0 \
        "${VPY}" -m pip wheel --progress-bar off --no-deps --no-build-isolation \
        "$@" "mmcv==${MMCV_VERSION}" -w "${WHEELHOUSE}"
}

find_mmcv_wheel() {
    local whl
    whl="$(ls -t "${WHEELHOUSE}"/mmcv-"${MMCV_VERSION}"-*.whl 2>/dev/null | head -n 1 || true)"
    echo "${whl}"
}

install_mmcv() {
    if mmcv_with_ops_installed; then
        log "mmcv ${MMCV_VERSION} with ops already installed"
        return
    fi
    local whl
    whl="$(find_mmcv_wheel)"
    if [[ -z "${whl}" ]]; then
        build_mmcv_wheel
        whl="$(find_mmcv_wheel)"
        [[ -n "${whl}" ]] || die "mmcv build produced no wheel in ${WHEELHOUSE}"
    else
        log "using cached mmcv wheel ${whl}"
    fi
    pip_install --no-deps --force-reinstall "${whl}"
    if ! mmcv_with_ops_installed; then
        # A wheel is tied to the torch it was built against (C++ ABI); the
        # cached one (ours or pip's) may come from another torch.
        log "mmcv wheel ${whl} does not work with this torch: rebuilding it without caches"
        mv -f "${whl}" "${whl}.stale"
        build_mmcv_wheel --no-cache-dir
        whl="$(find_mmcv_wheel)"
        [[ -n "${whl}" ]] || die "mmcv build produced no wheel in ${WHEELHOUSE}"
        pip_install --no-deps --force-reinstall "${whl}"
        mmcv_with_ops_installed || die "mmcv.ops does not import after rebuilding ${whl}"
    fi
}

# ---------------------------------------------------------------- venv
if [[ ! -x "${VPY}" ]]; then
    command -v "${PYTHON}" >/dev/null 2>&1 || die "${PYTHON} not found"
    log "creating virtual environment ${VENV} with $(${PYTHON} --version 2>&1)"
    "${PYTHON}" -m venv "${VENV}"
else
    log "using virtual environment ${VENV}"
fi

PY_VERSION="$("${VPY}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "${PY_VERSION}" != "3.11" ]]; then
    log "WARNING: ${LOCK} was made for Python 3.11, this venv has ${PY_VERSION}"
fi

# ---------------------------------------------------------------- stamp
STAMP_HASH="$(
    {
        cat "${LOCK}" setup.py
        echo "torch: ${TORCH_SPEC}"
        echo "mmcv: ${MMCV_VERSION}"
        echo "python: ${PY_VERSION}"
    } | sha256sum | cut -d' ' -f1
)"

if [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${STAMP_HASH}" ]]; then
    log "stamp matches; checking: ${IMPORT_CHECK}"
    if imports_work; then
        log "everything is installed (${VENV}); nothing to do"
        exit 0
    fi
    log "imports fail although the stamp matches: reinstalling"
fi
rm -f "${STAMP}"

# ---------------------------------------------------------------- packages
SETUPTOOLS_PIN="$(lock_pin setuptools)"
WHEEL_PIN="$(lock_pin wheel)"
log "installing ${TORCH_SPEC} (CPU), ${SETUPTOOLS_PIN}, ${WHEEL_PIN}"
pip_install --no-deps "${TORCH_SPEC}" "${SETUPTOOLS_PIN}" "${WHEEL_PIN}"

log "installing the exact lock ${LOCK} (--no-deps)"
pip_install --no-deps -r "${LOCK}"

log "installing mmcv ${MMCV_VERSION} with CPU ops"
install_mmcv

log "installing icar_mm in editable mode"
pip_install --no-deps --no-build-isolation -e .

log "checking: ${IMPORT_CHECK}"
if ! (cd / && "${VPY}" -c "${IMPORT_CHECK}"); then
    die "the installed environment does not import (see the error above)"
fi
echo "${STAMP_HASH}" > "${STAMP}"
log "done: $("${VPY}" -c 'import torch, mmcv, mmengine, mmpretrain; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmpretrain {mmpretrain.__version__}")')"
log "use ${VPY} (or: source .venv/bin/activate)"
