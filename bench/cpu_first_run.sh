#!/usr/bin/env bash
# Figure in bench/RESULTS.md, CPU: 'README command 1 as a newcomer runs it first'.
# README command 1 as a newcomer runs it first: a fresh clone of COMMIT (default HEAD) beside ../shared, no .venv,
# no converted model, no score cache (uv's package cache may be warm: the registries are reachable). Times the
# environment install (uv sync, bytecode compilation included) apart from Snakemake's run, then prints each job's
# seconds from its benchmark file.
# Usage: bash bench/cpu_first_run.sh [COMMIT] [CLONE_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="${1:-HEAD}"
clone="${2:-$(dirname "$repo")/first-run-$(git -C "$repo" rev-parse --short "$commit")}"
rm -rf "$clone"
git clone -q "$repo" "$clone"
git -C "$clone" checkout -q "$commit"
cd "$clone"
command -v uv >/dev/null || pip install uv
start=$(date +%s.%N)
uv sync --locked -q
synced=$(date +%s.%N)
uv run snakemake all --cores all --resources gpu=1 >snakemake.out 2>&1
end=$(date +%s.%N)
printf 'commit %s on %s cores (%s)\n' "$(git rev-parse --short HEAD)" "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p')"
printf 'environment install %.1f s, snakemake %.1f s, README command 1 %.1f s wall\n' \
  "$(echo "$synced - $start" | bc)" "$(echo "$end - $synced" | bc)" "$(echo "$end - $start" | bc)"
find benchmarks -name '*.tsv' | sort | while read -r f; do printf '%s\t%s\n' "$f" "$(sed -n 2p "$f" | cut -f1)"; done
