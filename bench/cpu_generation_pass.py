"""One whole generation pass on this CPU as README command 1 runs it: the converted embedded model with the
default settings (NF4 at load, the CPU's native compute dtype, token budget ``auto``, lm-eval's ``max_gen_toks``),
from the model load to results. Its answers are kept, so that two checkouts' passes compare item for item.

Figure in bench/RESULTS.md, CPU: 'a whole generation pass, before and after'.

Usage (after the convert_model rule), once per checkout, side by side on one machine:
    PYTHONPATH=OTHER_CHECKOUT/src uv run python bench/cpu_generation_pass.py TASK before.json
    uv run python bench/cpu_generation_pass.py TASK after.json before.json
TASK: truthfulqa_gen or nq_open; CPU_DTYPE=float32 computes in float32 where the CPU would use bf16 (answers in
bf16 depend on how many rows a matmul holds, on either side); PROFILE=FILE writes where the pass's time went
(cProfile, by own time: slower than unprofiled). Prints one JSON record: seconds, what was decoded, and (given a
second file) how many answers equal the other pass's.
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from ll_hallucination_pipeline.inference.evaluate import EvalRequest, build_lm, run_evaluation, samples_name
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import local_source, prepare_dataset, read_jsonl
from ll_hallucination_pipeline.tasks.registry import get_task

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models/smollm2-135m-instruct"
DATA = REPO.parent / "shared/data"
DEFAULTS = QuantizationSettings(cpu_compute_dtype=os.environ.get("CPU_DTYPE", "auto"))  # config.yaml's defaults


def main(task: str, answers_file: str, against: str | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="cpu_generation_pass-"))
    spec = get_task(task)
    data = work / f"{spec.data}.jsonl"
    prepare_dataset(spec.data, data, work / "manifest.json", source=local_source(spec.data, DATA))
    started = time.perf_counter()
    lm = build_lm(MODEL, DEFAULTS, cache_dir=work / "cache")
    profile = cProfile.Profile() if "PROFILE" in os.environ else None
    with profile or contextlib.nullcontext():
        run_evaluation(EvalRequest(task, 0, data, work / "out"), lm, metadata={})
    if profile:
        with open(os.environ["PROFILE"], "w") as out:
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(30)
    seconds = time.perf_counter() - started
    answers = {str(r["doc_id"]): r["resps"] for r in read_jsonl(work / "out" / samples_name(task))}
    Path(answers_file).write_text(json.dumps(answers))
    scoring = json.loads((work / "out" / "scoring.json").read_text())
    record = {
        "task": task,
        "cpu_compute_dtype": DEFAULTS.cpu_compute_dtype,
        "items": len(answers),
        "seconds_with_model_load": round(seconds, 1),
        **{
            k: scoring[k]
            for k in (
                "generated_tokens",
                "prefill_tokens",
                "decode_steps",
                "largest_generation_rows",
                "generation_seconds",
                "decode_tokens_per_second",
            )
        },
    }
    if against:
        other = json.loads(Path(against).read_text())
        record["answers_equal"] = sum(answers[d] == other.get(d) for d in answers)
    print(json.dumps(record))


if __name__ == "__main__":
    main(*sys.argv[1:])
