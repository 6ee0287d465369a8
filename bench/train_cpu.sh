#!/usr/bin/env bash
# Training throughput of the tiny recipe on this machine: re-trains adapters/tiny_seed0 through the DAG and
# prints real (non-padding) tokens per second from its manifest. Usage: bash bench/train_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf adapters/tiny_seed0 adapters/.work/tiny_seed0
uv run snakemake adapters/tiny_seed0 --cores all --resources gpu=1 -q
uv run python - <<'PY'
import json
m = json.load(open("adapters/tiny_seed0/manifest.json"))
print(f"tiny recipe: {m['global_steps']} steps, {m['real_tokens']:.0f} real tokens in {m['seconds']:.1f} s "
      f"= {m['tokens_per_second']:.1f} real tokens/s on {m['device']} (train loss {m['train_loss']:.3f})")
PY
