"""One generation pass on this CPU: ours (the pipeline's evaluation, batched greedy) against `lm_eval --model hf`,
on the first N items of a generation task, side by side in one run, on the converted embedded model in float32
(both sides: the parity setting); ours timed from the model load, hf's from its process start; ours also per
decoded token.

Figure in bench/RESULTS.md, CPU: 'one generation pass side by side in one run'.

Usage (after the convert_model rule): uv run python bench/cpu_generation.py nq_open|truthfulqa_gen N [MAX_GEN_TOKS]
Prints one JSON record: wall seconds of each side, ours' scoring.json (tokens decoded, tokens/s), answers equal.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from ll_hallucination_pipeline.inference.evaluate import EvalRequest, build_lm, run_evaluation, samples_name, task_yaml
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import local_source, prepare_dataset, read_jsonl
from ll_hallucination_pipeline.tasks.registry import get_task

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.helpers import run_lm_eval_hf  # noqa: E402

MODEL = REPO / "models/smollm2-135m-instruct"
FP32 = QuantizationSettings(mode="none", compute_dtype="float32", cpu_compute_dtype="float32")


def main(task: str, n_items: int, max_gen_toks: int = 256) -> None:
    work = Path(tempfile.mkdtemp(prefix="cpu_generation-"))
    spec = get_task(task)
    source = local_source(spec.data, REPO.parent / "shared/data")
    subset = work / "source.jsonl"
    subset.write_text("".join(json.dumps(r) + "\n" for r in read_jsonl(source)[:n_items]))
    data = work / f"{spec.data}.jsonl"
    prepare_dataset(spec.data, data, work / "manifest.json", source=subset)
    started = time.perf_counter()
    lm = build_lm(MODEL, FP32, cache_dir=work / "cache")
    run_evaluation(EvalRequest(task, 0, data, work / "ours", max_gen_toks=max_gen_toks), lm, metadata={})
    ours_seconds = time.perf_counter() - started
    (work / "tasks").mkdir()
    (work / "tasks" / f"{task}.yaml").write_text(task_yaml(task, data))
    started = time.perf_counter()
    ref = run_lm_eval_hf(
        f"pretrained={MODEL}", [task], work / "tasks", work / "ref", "--gen_kwargs", f"max_gen_toks={max_gen_toks}"
    )
    hf_seconds = time.perf_counter() - started
    ours = {r["doc_id"]: r["resps"] for r in read_jsonl(work / "ours" / samples_name(task))}
    theirs = {r["doc_id"]: r["resps"] for r in read_jsonl(next(ref.rglob(f"samples_{task}_*.jsonl")))}
    scoring = json.loads((work / "ours" / "scoring.json").read_text())
    record = {
        "task": task,
        "items": n_items,
        "max_gen_toks": max_gen_toks,
        "ours_seconds_with_model_load": round(ours_seconds, 1),
        "hf_seconds_with_process_start": round(hf_seconds, 1),
        "speedup": round(hf_seconds / ours_seconds, 2),
        "answers_equal": ours == theirs,
        **{
            k: scoring[k]
            for k in ("generated_tokens", "decode_steps", "generation_seconds", "decode_tokens_per_second")
        },
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:]))
