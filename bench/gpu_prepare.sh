#!/usr/bin/env bash
# No figure of its own: what the GPU bench scripts carry.
# Prepare what the GPU benchmarks carry (all ignored by git): .whl (wheels the GPU image lacks), .whl-train
# (those training needs), .whl-smk (Snakemake and its needs), .whl-study (everything bench/gpu_study.sh needs,
# bitsandbytes cut to its CUDA 13 libraries, the GPU image's CUDA, so that it travels in one call), .bench (the embedded
# model's tokenizer; task data and the first 10k Alpaca examples in the shared layout under .bench/data),
# .bench-alpaca (the same 10k examples, for gpu_train.py), and the embedded GGUF in two halves, .bench-gguf-a
# and .bench-gguf-b (98 MB: over one call's 64 MiB, so it travels in two calls to a warm machine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/device/make-wheelhouse .whl gguf==0.19.0 liger-kernel==0.8.5
# The wheels training needs, small enough to travel beside .bench and .bench-alpaca on a fresh machine.
mkdir -p .whl-train
for w in bitsandbytes trl datasets dill multiprocess liger_kernel; do cp .whl/"$w"-*.whl .whl-train/; done
# Snakemake at the locked versions with the needs the GPU image lacks (pulp only serves its ILP scheduler,
# which falls back without it; connection-pool is published as source only).
mkdir -p .whl-smk
smk=$(uv export --no-hashes --no-dev --no-emit-project --frozen | grep -E '^(snakemake|snakemake-interface-[a-z-]+|argparse-dataclass|conda-inject|configargparse|docutils|dpath|gitpython|gitdb|smmap|humanfriendly|immutables|jsonschema|jsonschema-specifications|referencing|rpds-py|nbformat|fastjsonschema|jupyter-core|traitlets|platformdirs|smart-open|throttler|yte|sqlmodel|sqlalchemy|greenlet|pydantic|pydantic-core|annotated-types|typing-inspection|tenacity)==' | cut -d' ' -f1)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl-smk $smk
python3 -m pip wheel -q --no-deps -w .whl-smk "$(uv export --no-hashes --frozen | grep -E '^connection-pool==' | cut -d' ' -f1)"
rm -rf .whl-study && mkdir -p .whl-study && cp .whl/*.whl .whl-smk/*.whl .whl-study/ && rm .whl-study/bitsandbytes-*.whl
# transformers and peft at the locked versions, as users have them (the image's own are older).
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 -d .whl-study $(uv export --no-hashes --frozen | grep -E '^(transformers|peft)==' | cut -d' ' -f1)
python3 - .whl/bitsandbytes-*.whl .whl-study <<'PY'
import sys, zipfile
from pathlib import Path
source, target = Path(sys.argv[1]), Path(sys.argv[2]) / Path(sys.argv[1]).name
with zipfile.ZipFile(source) as whl, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as slim:
    for item in whl.infolist():
        name = Path(item.filename).name
        if name.startswith("libbitsandbytes_") and not name.startswith(("libbitsandbytes_cuda13", "libbitsandbytes_cpu")):
            continue
        slim.writestr(item, whl.read(item))
PY
uv run snakemake models/smollm2-135m-instruct --cores all >/dev/null
mkdir -p .bench/tok .bench/data/arc_easy .bench/data/truthfulqa .bench/data/alpaca .bench-alpaca/alpaca .bench-gguf-a .bench-gguf-b
cp models/smollm2-135m-instruct/tokenizer*.json models/smollm2-135m-instruct/chat_template.jinja .bench/tok/ 2>/dev/null || true
cp ../shared/data/arc_easy/test.jsonl ../shared/data/arc_easy/train.jsonl ../shared/data/arc_easy/validation.jsonl .bench/data/arc_easy/
cp ../shared/data/truthfulqa/mc_validation.jsonl ../shared/data/truthfulqa/generation_validation.jsonl .bench/data/truthfulqa/
mkdir -p .bench/data/nq_open && cp ../shared/data/nq_open/*.jsonl .bench/data/nq_open/
head -n 10000 ../shared/data/alpaca/train.jsonl >.bench/data/alpaca/train.jsonl
cp .bench/data/alpaca/train.jsonl .bench-alpaca/alpaca/train.jsonl
gguf=$(uv run python -c "from ll_hallucination_pipeline.models.gguf_conversion import embedded_gguf_path; print(embedded_gguf_path())")
half=$(( ($(stat -c %s "$gguf") + 1) / 2 ))
head -c "$half" "$gguf" >.bench-gguf-a/part
tail -c +"$((half + 1))" "$gguf" >.bench-gguf-b/part
for d in /.whl-train/ /.whl-smk/ /.whl-study/ /.bench/ /.bench-alpaca/ /.bench-gguf-a/ /.bench-gguf-b/; do grep -qxF "$d" .git/info/exclude || echo "$d" >>.git/info/exclude; done
du -sh .whl .whl-train .whl-smk .whl-study .bench .bench-alpaca .bench-gguf-a .bench-gguf-b
