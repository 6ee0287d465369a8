#!/usr/bin/env bash
# No figure of its own: installs, then runs bench/gpu_study.py or bench/gpu_profile.py.
# On the GPU machine, from the repo root: install carried wheels, or run one phase of bench/gpu_study.py.
#   bash bench/gpu_study.sh install .whl [.whl-smk]   # into /tmp/site (kept while the machine stays warm)
#   bash bench/gpu_study.sh profile MODEL_DIR ...      # see bench/gpu_profile.py
#   bash bench/gpu_study.sh PHASE ARGS...              # see bench/gpu_study.py
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="/tmp/site:$PWD/src" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
if [ "$1" = install ]; then
  shift
  for dir in "$@"; do
    # Compiled at install, as uv installs them for users (pyproject's compile-bytecode): where
    # PYTHONDONTWRITEBYTECODE is set, every job would otherwise compile these packages again on import.
    python3 -m pip install -q --no-index --no-deps --no-cache-dir --upgrade --target /tmp/site "$dir"/*.whl
  done
  # The image's own packages too (torch, transformers, ...), where it ships them uncompiled.
  python3 -m compileall -q -j 0 src "$(python3 -c 'import site; print(site.getsitepackages()[0])')" >/dev/null || true
  python3 -c "import snakemake, lm_eval, bitsandbytes, trl; print('installed')" 2>/dev/null || python3 -c "import lm_eval, bitsandbytes, trl; print('installed (no snakemake yet)')"
  exit 0
fi
[ "$1" = profile ] && shift && exec python3 bench/gpu_profile.py "$@"
exec python3 bench/gpu_study.py "$@"
