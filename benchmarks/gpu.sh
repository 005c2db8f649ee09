#!/usr/bin/env bash
# The sparse engine on a GPU (issue 21): 25M and 100M planted ratings, one command, under 10 minutes.
#
#   benchmarks/gpu.sh --fetch   # here, with the package registry: fastai and the pure-Python
#                               # packages it needs that a bare GPU machine lacks, as wheels in .whl/
#   benchmarks/gpu.sh [ARGS]    # on the GPU machine (no network): installs .whl/ and this checkout
#                               # into /tmp/site, then runs benchmarks/gpu.py [ARGS] and prints the table
#
# The GPU machine's python3 already has torch, numpy, pandas, pyarrow, numba, jinja2,
# matplotlib, click and safetensors; it cannot reach a registry, so the rest travels as
# wheels (`.whl/` is git-ignored: carry it). Through the device tool:
#   run(command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=600)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
wheels="$root/.whl"
# fastai's imports on the collaborative-filtering path, with their own (plum-dispatch's) needs.
packages=(fastai==2.8.12 fastcore fastprogress fastdownload fasttransform "plum-dispatch<2.10" beartype)

if [ "${1:-}" = "--fetch" ]; then
  mkdir -p "$wheels"
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d "$wheels" "${packages[@]}"
  ls -l "$wheels"
  exit 0
fi

site=/tmp/site
if ! python3 -c "import fastai" 2>/dev/null; then
  [ -d "$wheels" ] || { echo "fastai is missing and $wheels is absent: run benchmarks/gpu.sh --fetch first, carry .whl" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl
fi
# reportgen itself, as a wheel (its templates are package data), built offline with the machine's setuptools.
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target "$site" "$root"
export PYTHONPATH="$site" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
cd /tmp  # so `python3 -m reportgen` is the installed one, not the checkout's folder
exec python3 "$root/benchmarks/gpu.py" "$@"
