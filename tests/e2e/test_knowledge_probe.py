"""The knowledge probe's answers against lm-eval's own hf backend asked the same prompts, on multiple choice and
on short answers (the latter through the DAG); the probe of an ARC pool and test split through the DAG is checked
on the knowledge mixes' study (test_knowledge_mixes.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.inference.evaluate import build_lm
from ll_hallucination_pipeline.inference.generation import Sampling
from ll_hallucination_pipeline.inference.knowledge import (
    ProbeSettings,
    arc_choice_item,
    few_shot_prefixes,
    multiple_choice_knowledge,
    nq_open_item,
    nq_open_task,
    probe_rows,
    short_answer_right,
)
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import read_jsonl
from tests.helpers import (
    nq_probe_prompt_tasks,
    probe_prompt_tasks,
    run_lm_eval_hf,
    run_snakemake,
    write_config,
    write_short_answer_pool,
)

pytestmark = pytest.mark.slow
FP32 = QuantizationSettings(mode="none", compute_dtype="float32", cpu_compute_dtype="float32")


def test_categories_equal_an_independent_computation_from_lm_eval_hf(converted_model: Path, tiny_data: Path, tmp_path):
    """The probe on 6 ARC-Easy items against lm-eval's own hf backend asked the same K prompts: one task per prompt
    whose ``doc_to_text`` opens with that prompt's exemplars, its per-choice log-likelihoods and argmax (``acc``)
    read back; greedy answers equal item for item, categories equal with the samples drawn from hf's scores."""
    settings = ProbeSettings(prompts=5, shots=2, samples=4)
    items = read_jsonl(tiny_data / "arc_easy/test.jsonl")
    exemplars = read_jsonl(tiny_data / "arc_easy/validation.jsonl")
    data = tmp_path / "arc_easy.jsonl"
    data.write_text((tiny_data / "arc_easy/test.jsonl").read_text())
    ours = probe_rows(
        build_lm(converted_model, FP32, cache_dir=tmp_path / "cache", token_budget=512), items, exemplars, settings
    )

    names = probe_prompt_tasks(data, exemplars, settings, tmp_path / "tasks")
    ref_dir = run_lm_eval_hf(f"pretrained={converted_model}", names, tmp_path / "tasks", tmp_path / "hf")
    hf_rows = {name: read_jsonl(next(ref_dir.rglob(f"samples_{name}_*.jsonl"))) for name in names}
    for n, (doc, row) in enumerate(zip(items, ours, strict=True)):
        by_prompt = [next(r for r in hf_rows[name] if r["doc_id"] == n) for name in names]
        assert row["greedy_right"] == sum(int(r["acc"]) for r in by_prompt), n
        scores = [[choice[0][0] for choice in r["resps"]] for r in by_prompt]
        hf = multiple_choice_knowledge(scores, arc_choice_item(doc).correct, settings, item=n)
        assert (row["category"], row["sampled_right"]) == (hf.category(settings.alpha), sum(hf.sampled_right)), n


def test_short_answers_equal_lm_eval_hf_and_samples_do_not_depend_on_batching(
    converted_model: Path, shared_data: Path, tiny_data: Path, tmp_path: Path
):
    """The EfficientQA pool through the DAG (split, probe; the model in float32 as lm-eval's run has it), then its
    greedy answers against lm-eval's own hf backend running nq_open with the same K exemplar sets: answers equal
    item for item, and the probe's right counts equal lm-eval's exact match. The samples of one prompt, drawn
    beside the greedy answer, are the same run in one batch or one prompt at a time."""
    settings = ProbeSettings(prompts=2, shots=4, samples=3)
    data = write_short_answer_pool(shared_data, tiny_data, tmp_path / "local")
    write_config(
        tmp_path,
        data={"source": "local", "local_dir": str(data)},
        knowledge={"sets": ["nq_open_pool"], "probe": {"prompts": 2, "samples": 3}},
        qlora={"recipes": []},
        quantization={"mode": "none", "compute_dtype": "float32", "cpu_compute_dtype": "float32"},
    )
    target = "evals/knowledge/nq_open_pool/counts.csv"
    env = {"MODEL_PATH": str(converted_model)}
    done = run_snakemake(tmp_path, target, "--cores", "all", "--resources", "gpu=1", env=env)
    assert done.returncode == 0, done.stdout[-4000:]
    probed = pd.read_csv(tmp_path / "evals/knowledge/nq_open_pool/items.csv")
    items = read_jsonl(tmp_path / "data/nq_open_pool.jsonl")
    exemplars = read_jsonl(tmp_path / "data/nq_open_pool_exemplars.jsonl")
    assert len(probed) == len(items) == 7 and len(exemplars) == 32 and probed["sampled_right"].between(0, 6).all()

    lm = build_lm(converted_model, FP32, cache_dir=tmp_path / "cache", token_budget=4096)
    names = nq_probe_prompt_tasks(tmp_path / "data/nq_open_pool.jsonl", exemplars, settings, tmp_path / "tasks")
    ref_dir = run_lm_eval_hf(f"pretrained={converted_model}", names, tmp_path / "tasks", tmp_path / "hf")
    hf_rows = {name: read_jsonl(next(ref_dir.rglob(f"samples_{name}_*.jsonl"))) for name in names}
    task = nq_open_task()
    shots = [(e.question, e.answers[0]) for e in map(nq_open_item, exemplars)]
    prefixes = few_shot_prefixes(shots, settings, description=task["description"], delimiter=task["fewshot_delimiter"])
    until = task["generation_kwargs"]["until"]
    for prefix, name in zip(prefixes, names, strict=True):
        contexts = [prefix + nq_open_item(doc).question for doc in items]
        greedy = [answers[0] for answers in lm.sample_until(contexts, until, settings.max_new_tokens, Sampling())]
        hf = sorted(hf_rows[name], key=lambda r: r["doc_id"])
        assert [r["arguments"]["gen_args_0"]["arg_0"] for r in hf] == contexts
        assert [r["filtered_resps"][0] for r in hf] == [answer.strip() for answer in greedy]
        assert [short_answer_right(a, doc["answer"]) for a, doc in zip(greedy, items, strict=True)] == [
            bool(r["exact_match"]) for r in hf
        ]
    by_doc = {name: {r["doc_id"]: r for r in rows} for name, rows in hf_rows.items()}
    hf_right = [sum(int(by_doc[name][n]["exact_match"]) for name in names) for n in range(len(items))]
    assert list(probed["greedy_right"]) == hf_right and sum(hf_right) > 0

    sampling = Sampling(settings.samples, settings.temperature, settings.seed)
    contexts = [prefixes[0] + nq_open_item(doc).question for doc in items]
    together = lm.sample_until(contexts, until, settings.max_new_tokens, sampling)
    alone = build_lm(converted_model, FP32, cache_dir=tmp_path / "cache_alone", token_budget=256)
    assert [alone.sample_until([c], until, settings.max_new_tokens, sampling)[0] for c in contexts] == together
