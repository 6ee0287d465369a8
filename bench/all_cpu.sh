#!/usr/bin/env bash
# Figure in bench/RESULTS.md, CPU: 'README command 1 on the embedded model'.
# Time README command 1 (the whole default `all` on the embedded model: baseline,
# tiny training, post-QLoRA evaluation, analysis) from a clean evals/, adapters/ and an empty score cache,
# keeping the converted model and the prepared data. Prints the wall time and each job's time.
# Usage: bash bench/all_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf evals/baseline evals/postqlora evals/compare evals/drafts adapters cache/scores benchmarks
start=$(date +%s)
(command -v uv >/dev/null || pip install uv) && uv run snakemake all --cores all --resources gpu=1
end=$(date +%s)
echo "README command 1 wall time: $((end - start)) s on $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p'))"
find benchmarks -name '*.tsv' | sort | while read -r f; do printf '%s\t' "$f"; sed -n 2p "$f" | cut -f1; done
