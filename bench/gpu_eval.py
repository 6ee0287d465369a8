"""GPU benchmark: lm-eval's own hf backend (the runbook way) vs this pipeline's scorer, same NF4 files, one machine.

Figures in bench/RESULTS.md: under 'The study as users run it', the embedded model on the GPU against float32
and the truthfulqa_gen pass, ours and the runbook way's; under 'One-process benches', evaluation on a simulated 24 GB
card and the 8B shape's distance from float32.

Run on the lent GPU machine from the repo root, after `bash bench/gpu_prepare.sh` here (wheels and data):
    python3 bench/gpu_eval.py setup      # Qwen3-8B-shaped random model (bf16), saved once as NF4
    python3 bench/gpu_eval.py ours       # full baseline: 2 tasks x 3 seeds, one model load, timed
        (TOKEN_BUDGET=auto|N, the default auto; BENCH_CARD_GIB=23 leaves 23 GiB free: a 24 GB card)
    python3 bench/gpu_eval.py runbook arc_easy|truthfulqa_mc2   # lm_eval --model hf, NF4, batch auto max 4
    python3 bench/gpu_eval.py reference  # per-request loglik of the NF4 weights computed in float32 (limit)
    python3 bench/gpu_eval.py agree      # per-request loglik: ours vs hf batch 1 vs hf batch 4 (limit), and vs
                                         # the reference when it was computed
    python3 bench/gpu_eval.py stash a|b  # keep a carried half of the embedded GGUF on the machine
    python3 bench/gpu_eval.py embedded   # embedded real model (NF4) on the GPU, full data: ours vs the runbook way,
                                         # each vs the same weights scored in float32
    python3 bench/gpu_eval.py summary [bench.jsonl ...]  # timings, ratio, peak memory, agreement in one record
    python3 bench/gpu_eval.py generation_ours ""|LIMIT...  # ours from the bf16 checkpoint, a process of its own
                                         # from start to results, on every item ("") or the first LIMIT of each of
                                         # GEN_TASKS (default truthfulqa_gen,nq_open; GEN_TOKS new tokens, default 256)
    python3 bench/gpu_eval.py generation_hf LIMIT...  # lm_eval --model hf (NF4, batch auto max 4), the first LIMIT
                                         # items of each task: two limits give its cost per item and fixed cost
    python3 bench/gpu_eval.py same_answers BEFORE AFTER  # two ours_generation runs' answers, item for item
    GEN_MODEL=embedded ...               # the generation phases on the embedded model (after `embedded_model`,
                                         # which assembles it from the two stashed halves)
No download is possible there: random weights, the embedded model's real tokenizer (.bench/tok).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import (
    BENCH_DATA,
    OUT,
    REPO,
    WORK,
    build_checkpoint,
    leave_card_of,
    prepare_tasks,
    record,
    records,
    runbook_lm_eval,
    save_nf4,
)

BF16, NF4 = WORK / "q8b-bf16", WORK / "q8b-nf4"
SMOL, SMOL_NF4 = WORK / "smollm2", WORK / "smollm2-nf4"
TASKS = ["truthfulqa_mc2", "arc_easy"]
GEN_TASKS = os.environ.get("GEN_TASKS", "truthfulqa_gen,nq_open").split(",")
GEN_TOKS = int(os.environ.get("GEN_TOKS", "256"))
# The generation phases' model: the 8B-shaped checkpoint, or the embedded real model (``embedded_model`` first).
GEN_BF16, GEN_NF4 = (SMOL, SMOL_NF4) if os.environ.get("GEN_MODEL") == "embedded" else (BF16, NF4)


def setup() -> None:
    """The 8B-shaped bf16 checkpoint and its NF4 copy; the tasks' data and YAMLs (not for training alone)."""
    import torch

    start = time.perf_counter()
    build_checkpoint("8b", BF16)
    torch.cuda.empty_cache()
    save_nf4(BF16, NF4)
    if os.environ.get("BENCH_TRAIN_ONLY") != "1":  # training needs no task files
        bench_tasks()
    record({"phase": "setup", "seconds": round(time.perf_counter() - start, 1)})


def bench_tasks() -> Path:
    """The evaluation tasks and the generation tasks whose data gpu_prepare.sh brought, prepared under WORK."""
    from ll_hallucination_pipeline.tasks.registry import get_data_set, get_task

    present = [t for t in GEN_TASKS if (BENCH_DATA / get_data_set(get_task(t).data).local_file).exists()]
    return prepare_tasks(TASKS + present, WORK)


def ours(seeds: tuple[int, ...] = (0, 1, 2), model: Path = NF4, name: str = "ours") -> None:
    """The pipeline's evaluation (``evaluate_jobs``: one model load, every task and seed), timed as a whole."""
    import torch

    from ll_hallucination_pipeline.inference.evaluate import EvalRequest, evaluate_jobs
    from ll_hallucination_pipeline.models.quantization import QuantizationSettings
    from ll_hallucination_pipeline.tasks.registry import task_data_file

    budget = os.environ.get("TOKEN_BUDGET", "auto")  # config.yaml eval.token_budget
    budget = budget if budget == "auto" else int(budget)
    if "BENCH_CARD_GIB" in os.environ:
        leave_card_of(float(os.environ["BENCH_CARD_GIB"]))
    requests = [
        EvalRequest(task, seed, WORK / task_data_file(task), WORK / f"{name}/{task}_seed{seed}")
        for task in TASKS
        for seed in seeds
    ]
    for request in requests:
        shutil.rmtree(request.out_dir, ignore_errors=True)
    shutil.rmtree(WORK / "cache", ignore_errors=True)
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    results = evaluate_jobs(
        requests,
        model_dir=model,
        model_label=model.name,
        quantization=QuantizationSettings(),
        cache_dir=WORK / "cache",
        token_budget=budget,
    )
    seconds = time.perf_counter() - start
    peak, budgets = torch.cuda.max_memory_allocated(), []
    for request, result in zip(requests, results, strict=True):
        scoring = json.loads((request.out_dir / "scoring.json").read_text())
        peak = max(peak, int(scoring.get("peak_gpu_gib", 0) * 2**30))
        budgets.append(scoring.get("largest_token_budget"))
        record(
            {
                "phase": name,
                "task": request.task,
                "seed": request.seed,
                "metrics": result["results"][request.task],
                "scoring": scoring,
                "lm_eval_seconds": result.get("total_evaluation_time_seconds"),
            }
        )
    record(
        {
            "phase": f"{name}_total",
            "seconds": round(seconds, 1),
            "token_budget": budget,
            "largest_token_budgets": budgets,
            "card_gib": os.environ.get("BENCH_CARD_GIB"),
            "peak_gib": round(peak / 2**30, 2),
        }
    )


# HF_SOFTMAX_DTYPE=float32: lm-eval's hf backend takes log_softmax in float32 (its default is the logits' dtype).
HF_SOFTMAX_DTYPE = os.environ.get("HF_SOFTMAX_DTYPE")


def runbook(task: str, limit: str | None = None, batch: str = "auto", model: Path = NF4, *extra: str) -> Path:
    """The runbook way on ``task`` (see ``common.runbook_lm_eval``), recorded; its output folder."""
    softmax = f"_softmax-{HF_SOFTMAX_DTYPE}" if HF_SOFTMAX_DTYPE else ""
    out = WORK / f"runbook/{model.name}/{task}_{batch}_{limit or 'full'}{softmax}"
    model_args = f",softmax_dtype={HF_SOFTMAX_DTYPE}" if HF_SOFTMAX_DTYPE else ""
    run = runbook_lm_eval(
        model, task, WORK / "tasks", out, limit=limit, batch=batch, model_args=model_args, extra=extra
    )
    record({"phase": "runbook", "hf_softmax_dtype": HF_SOFTMAX_DTYPE, **run})
    return out


def float32_reference_samples(model_dir: Path, batch_size: int, limit: int | None = None) -> dict[str, list[dict]]:
    """lm-eval's per-item samples of an NF4 model without bf16 rounding: its 4-bit weights dequantized (as
    bitsandbytes does before each matmul) into a float32 copy, scored by lm-eval's hf backend with float32
    log_softmax. What both bf16 scorers approximate."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ll_hallucination_pipeline.models.inference_layers import dequantize_4bit_linears
    from ll_hallucination_pipeline.models.model_loading import load_model
    from ll_hallucination_pipeline.models.quantization import QuantizationSettings

    model = load_model(model_dir, QuantizationSettings(), device="cuda")
    dequantize_4bit_linears(model)
    torch.nn.Module.float(model)  # transformers refuses .float() on a model loaded quantized
    lm = HFLM(pretrained=model, tokenizer=str(model_dir), batch_size=batch_size, softmax_dtype=torch.float32)
    samples = {}
    for task in TASKS:
        out = simple_evaluate(
            model=lm,
            tasks=[task],
            num_fewshot=0,
            limit=limit,
            log_samples=True,
            task_manager=TaskManager(include_path=str(WORK / "tasks"), include_defaults=False),
        )
        samples[task] = out["samples"][task]
    return samples


def reference(limit: str = "20") -> None:
    """The 8B shape's float32 reference at batch size 1 on the first ``limit`` items, for ``agree``."""
    from ll_hallucination_pipeline.tasks.results import request_loglikelihoods

    for task, rows in float32_reference_samples(NF4, batch_size=1, limit=int(limit)).items():
        (WORK / f"reference_{task}.json").write_text(json.dumps(request_loglikelihoods(rows)))
    record({"phase": "reference", "limit": limit})


def _max_abs(a: dict[int, list[float]], b: dict[int, list[float]]) -> float:
    return max(abs(x - y) for d in a for x, y in zip(a[d], b[d], strict=True))


def agree(limit: str = "100") -> None:
    """Per-request log-likelihoods on the first ``limit`` items: ours, hf at batch sizes 1 and 4, and (after
    the ``reference`` phase) each against the float32 reference."""
    from ll_hallucination_pipeline.tasks.results import per_request_loglikelihoods

    for task in TASKS:
        hf = {
            bs: per_request_loglikelihoods(next(runbook(task, limit, bs).rglob(f"samples_{task}_*.jsonl")))
            for bs in "14"
        }
        mine = per_request_loglikelihoods(WORK / f"ours/{task}_seed0/samples_{task}.jsonl")
        record = {
            "phase": "agree",
            "hf_softmax_dtype": HF_SOFTMAX_DTYPE,
            "task": task,
            "limit": limit,
            "max_abs_hf_bs1_vs_bs4": _max_abs(hf["1"], hf["4"]),
            "max_abs_ours_vs_hf_bs1": _max_abs(hf["1"], mine),
            "max_abs_ours_vs_hf_bs4": _max_abs(hf["4"], mine),
        }
        reference_file = WORK / f"reference_{task}.json"
        if reference_file.exists():
            exact = {int(d): v for d, v in json.loads(reference_file.read_text()).items()}
            record |= {
                "max_abs_hf_bs1_vs_reference": _max_abs(hf["1"], exact),
                "max_abs_hf_bs4_vs_reference": _max_abs(hf["4"], exact),
                "max_abs_ours_vs_reference": _max_abs({d: mine[d] for d in exact}, exact),
            }
        record(record)


def stash(half: str) -> None:
    """Keep the carried half of the embedded GGUF in WORK (it outlives the call while the machine stays warm)."""
    (WORK / "gguf").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / f".bench-gguf-{half}/part", WORK / f"gguf/part-{half}")
    record({"phase": "stash", "half": half, "bytes": (WORK / f"gguf/part-{half}").stat().st_size})


def _item_scores(rows: list[dict]) -> dict[int, tuple[int, float, float]]:
    """doc_id -> (argmax choice, the item's metric value: acc for ARC-Easy, mc2 for TruthfulQA, and the margin:
    the best choice's log-likelihood minus the runner-up's)."""
    from ll_hallucination_pipeline.tasks.results import request_loglikelihoods

    acc = {row["doc_id"]: float(row["acc"]) for row in rows}
    scores = {}
    for doc, lls in request_loglikelihoods(rows).items():
        first, second = sorted(lls, reverse=True)[:2]
        scores[doc] = (lls.index(first), acc[doc], first - second)
    return scores


def _argmax_agreement(a: dict[int, tuple], b: dict[int, tuple]) -> float:
    """Share of items whose best choice is the same in both (``_item_scores`` of the same items)."""
    return sum(a[doc][0] == b[doc][0] for doc in a) / len(a)


def embedded_model() -> None:
    """The embedded real model from its two stashed halves: as users have it (bf16) and as an NF4 copy."""
    from ll_hallucination_pipeline.models.gguf_conversion import EMBEDDED_GGUF, convert_gguf_to_hf

    gguf = WORK / "gguf" / EMBEDDED_GGUF
    with open(gguf, "wb") as whole:
        for half in "ab":
            whole.write((WORK / f"gguf/part-{half}").read_bytes())
    convert_gguf_to_hf(gguf, SMOL)
    save_nf4(SMOL, SMOL_NF4)


def embedded() -> None:
    """The embedded real model on the GPU in NF4, full data, seed 0: ours vs the runbook's lm-eval command,
    each also against the same NF4 weights scored in float32 (the exact value both bf16 scorers round)."""
    from ll_hallucination_pipeline.tasks.data import read_jsonl

    if not (WORK / "tasks").exists():
        bench_tasks()
    embedded_model()
    ours((0,), SMOL_NF4, "embedded_ours")
    start = time.perf_counter()
    exact = float32_reference_samples(SMOL_NF4, batch_size=32)
    record({"phase": "embedded_reference", "seconds": round(time.perf_counter() - start, 1)})
    for task in TASKS:
        rows = {
            "hf": read_jsonl(next(runbook(task, model=SMOL_NF4).rglob(f"samples_{task}_*.jsonl"))),
            "ours": read_jsonl(WORK / f"embedded_ours/{task}_seed0/samples_{task}.jsonl"),
            "float32": exact[task],
        }
        scores = {name: _item_scores(r) for name, r in rows.items()}
        for name, r in rows.items():  # per-item evidence, for reading beside RESULTS
            with open(OUT / f"embedded_{task}_{name}.jsonl", "w") as handle:
                handle.writelines(json.dumps({k: row[k] for k in ("doc_id", "acc", "resps")}) + "\n" for row in r)
        hf, mine, ref = scores["hf"], scores["ours"], scores["float32"]
        n = len(ref)
        record(
            {
                "phase": "embedded_agree",
                "hf_softmax_dtype": HF_SOFTMAX_DTYPE,
                "task": task,
                "items": n,
                "argmax_agreement": _argmax_agreement(hf, mine),
                "argmax_agreement_ours_vs_float32": _argmax_agreement(mine, ref),
                "argmax_agreement_hf_vs_float32": _argmax_agreement(hf, ref),
                "float32_margin_where_ours_and_hf_differ": sorted(
                    round(ref[d][2], 4) for d in ref if hf[d][0] != mine[d][0]
                ),
                **{f"metric_{name}": sum(v[1] for v in s.values()) / n for name, s in scores.items()},
            }
        )


def summary(*files: str) -> None:
    """The comparison in one record, from bench.jsonl files (default: $OUT/bench.jsonl): ours (whole card)
    against the runbook way for three seeds (one seed's runs, as each seed costs the same), the ratio,
    peak memory (also on a simulated smaller card) and the agreement figures."""
    runs = records(*files)
    totals = [r for r in runs if r["phase"] == "ours_total"]
    ours_run = next(r for r in reversed(totals) if not r.get("card_gib"))
    runbook_seed = {
        r["task"]: r["seconds"]
        for r in runs
        if r["phase"] == "runbook" and r["model"] == NF4.name and r["batch"] == "auto" and not r["limit"]
    }
    runbook_seconds = 3 * sum(runbook_seed[task] for task in TASKS)
    print(
        json.dumps(
            {
                "phase": "summary",
                "ours_seconds": ours_run["seconds"],
                "runbook_seconds_3_seeds": round(runbook_seconds, 1),
                "ratio": round(runbook_seconds / ours_run["seconds"], 1),
                "peak_gib": ours_run["peak_gib"],
                "smaller_cards": {r["card_gib"]: (r["seconds"], r["peak_gib"]) for r in totals if r.get("card_gib")},
                "agreement": [{k: v for k, v in r.items() if k != "phase"} for r in runs if r["phase"] == "agree"],
            },
            indent=1,
        )
    )


def ours_generation(limit: str = "") -> None:
    """The pipeline's evaluation of both generation tasks on the bf16 checkpoint (NF4 at load, as users run it;
    GEN_MODEL picks which), seed 0, the first ``limit`` items (a draft) or all."""
    from ll_hallucination_pipeline.inference.evaluate import EvalRequest, evaluate_jobs
    from ll_hallucination_pipeline.models.quantization import QuantizationSettings
    from ll_hallucination_pipeline.tasks.registry import task_data_file

    n = int(limit) if limit else None
    name = f"ours_gen_{limit or 'full'}"
    requests = [
        EvalRequest(
            task, 0, WORK / task_data_file(task), WORK / f"{name}/{task}", limit=n, draft=bool(n), max_gen_toks=GEN_TOKS
        )
        for task in GEN_TASKS
    ]
    shutil.rmtree(WORK / name, ignore_errors=True)
    shutil.rmtree(WORK / "cache", ignore_errors=True)
    evaluate_jobs(
        requests,
        model_dir=GEN_BF16,
        model_label=GEN_BF16.name,
        quantization=QuantizationSettings(),
        cache_dir=WORK / "cache",
        token_budget="auto",
        model_sha256="0" * 64,  # the study hashes the weights once in its own rule; not timed here either
    )
    for request in requests:
        record(
            {"phase": name, "task": request.task, "scoring": json.loads((request.out_dir / "scoring.json").read_text())}
        )


def _hf_generated_tokens(out: Path, task: str) -> int:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(GEN_NF4)
    rows = [json.loads(line) for line in next(out.rglob(f"samples_{task}_*.jsonl")).read_text().splitlines()]
    return sum(len(tokenizer(row["resps"][0][0], add_special_tokens=False)["input_ids"]) for row in rows)


def generation_ours(*limits: str) -> None:
    """Ours, from process start to results, on every item ("") or the first ``limit`` of each generation task."""
    for items in limits:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "ours_generation", items], capture_output=True, text=True)
        record(
            {
                "phase": "ours_gen_process",
                "model": GEN_BF16.name,
                "limit": items or None,
                "rc": done.returncode,
                "seconds": round(time.perf_counter() - start, 1),
                "tail": done.stderr[-600:] if done.returncode else "",
            }
        )


def same_answers(before: str, after: str) -> None:
    """Item for item, the answers of two ``ours_generation`` runs kept under ``WORK/before`` and ``WORK/after``
    (the code before and after a change), with each run's decode figures."""
    from ll_hallucination_pipeline.inference.evaluate import samples_name
    from ll_hallucination_pipeline.tasks.data import read_jsonl

    for task in GEN_TASKS:
        runs = [WORK / name / task for name in (before, after)]
        answers = [{r["doc_id"]: r["resps"] for r in read_jsonl(run / samples_name(task))} for run in runs]
        scoring = [json.loads((run / "scoring.json").read_text()) for run in runs]
        same = sum(answers[0][d] == answers[1].get(d) for d in answers[0])
        record({"phase": "same_answers", "task": task, "items": len(answers[0]), "equal": same, "runs": scoring})


def generation_hf(*limits: str) -> None:
    """The runbook way (``lm_eval --model hf``, from process start) on the first ``limit`` items of each task:
    two limits give its cost per item and what it spends before the first."""
    for limit in limits:
        for task in GEN_TASKS:
            out = runbook(task, limit, "auto", GEN_NF4, "--gen_kwargs", f"max_gen_toks={GEN_TOKS}")
            record(
                {
                    "phase": "runbook_gen_tokens",
                    "model": GEN_NF4.name,
                    "task": task,
                    "limit": limit,
                    "generated_tokens": _hf_generated_tokens(out, task),
                }
            )


if __name__ == "__main__":
    phase, *rest = sys.argv[1:]
    phases = {
        "setup": setup,
        "ours": ours,
        "runbook": runbook,
        "reference": reference,
        "agree": agree,
        "stash": stash,
        "embedded": embedded,
        "embedded_model": embedded_model,
        "summary": summary,
        "ours_generation": ours_generation,
        "generation_ours": generation_ours,
        "generation_hf": generation_hf,
        "same_answers": same_answers,
    }
    phases[phase](*rest)
