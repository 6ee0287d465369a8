#!/usr/bin/env bash
# Prepare what the GPU benchmark carries (all ignored by git): .whl (wheels the GPU image lacks), .whl-train
# (those training needs), .bench (the embedded model's tokenizer and the evaluation files), .bench-alpaca
# (10k Alpaca examples), and the embedded GGUF in two halves, .bench-gguf-a and .bench-gguf-b (98 MB: over
# one call's 64 MiB, so it travels in two calls to a warm machine; `gpu_eval.py stash` keeps each half there).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/device/make-wheelhouse .whl gguf==0.19.0 liger-kernel==0.8.5
# The wheels training needs, small enough to travel beside .bench and .bench-alpaca on a fresh machine.
mkdir -p .whl-train
for w in bitsandbytes trl datasets dill multiprocess liger_kernel; do cp .whl/"$w"-*.whl .whl-train/; done
mkdir -p .bench/tok .bench/data/arc_easy .bench/data/truthfulqa .bench-alpaca/alpaca .bench-gguf-a .bench-gguf-b
cp models/smollm2-135m-instruct/tokenizer*.json models/smollm2-135m-instruct/chat_template.jinja .bench/tok/ 2>/dev/null || true
cp ../shared/data/arc_easy/test.jsonl .bench/data/arc_easy/
cp ../shared/data/truthfulqa/mc_validation.jsonl .bench/data/truthfulqa/
head -n 10000 ../shared/data/alpaca/train.jsonl >.bench-alpaca/alpaca/train.jsonl
gguf=$(uv run python -c "from ll_hallucination_pipeline.model import embedded_gguf_path; print(embedded_gguf_path())")
half=$(( ($(stat -c %s "$gguf") + 1) / 2 ))
head -c "$half" "$gguf" >.bench-gguf-a/part
tail -c +"$((half + 1))" "$gguf" >.bench-gguf-b/part
for d in /.whl-train/ /.bench/ /.bench-alpaca/ /.bench-gguf-a/ /.bench-gguf-b/; do grep -qxF "$d" .git/info/exclude || echo "$d" >>.git/info/exclude; done
du -sh .whl .whl-train .bench .bench-alpaca .bench-gguf-a .bench-gguf-b
