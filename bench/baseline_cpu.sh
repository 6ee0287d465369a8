#!/usr/bin/env bash
# Time README command 1 (the full baseline on the embedded model) from a clean evals/ and an
# empty score cache, keeping the converted model and prepared data. Usage: bash bench/baseline_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf evals/baseline evals/drafts cache/scores
start=$(date +%s)
uv run snakemake all --cores 1 --resources gpu=1
end=$(date +%s)
echo "baseline wall time: $((end - start)) s on $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p'))"
for f in benchmarks/evaluate_baseline/*.tsv; do printf '%s\t' "$f"; sed -n 2p "$f" | cut -f1; done
