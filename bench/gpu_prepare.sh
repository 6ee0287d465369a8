#!/usr/bin/env bash
# Prepare what the GPU benchmark carries (both ignored by git): .whl (wheels the GPU image lacks)
# and .bench (the embedded model's tokenizer and the two evaluation files from the shared data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/device/make-wheelhouse .whl
mkdir -p .bench/tok .bench/data/arc_easy .bench/data/truthfulqa
cp models/smollm2-135m-instruct/tokenizer*.json models/smollm2-135m-instruct/chat_template.jinja .bench/tok/ 2>/dev/null || true
cp ../shared/data/arc_easy/test.jsonl .bench/data/arc_easy/
cp ../shared/data/truthfulqa/mc_validation.jsonl .bench/data/truthfulqa/
grep -qxF "/.bench/" .git/info/exclude || echo "/.bench/" >> .git/info/exclude
du -sh .whl .bench
