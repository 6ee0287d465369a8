"""Helpers the tests (and the CPU packed-training bench) share: tiny data subsets, running this Snakefile, running
lm-eval's own CLI, a CPU stand-in for the variable-length FlashAttention kernel, packed training steps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def write_subset(shared: Path, out_dir: Path, n_items: int, n_sft: int = 32) -> Path:
    """A data directory in the shared layout: ``n_items`` per evaluation task, ``n_sft`` Alpaca examples."""
    for rel, n in (
        ("arc_easy/test.jsonl", n_items),
        ("arc_easy/train.jsonl", n_items),
        ("arc_easy/validation.jsonl", n_items),
        ("arc_challenge/test.jsonl", n_items),
        ("truthfulqa/mc_validation.jsonl", n_items),
        ("truthfulqa/generation_validation.jsonl", n_items),
        ("nq_open/validation.jsonl", n_items),
        ("alpaca/train.jsonl", n_sft),
    ):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(shared / rel, encoding="utf-8") as src:
            lines = [next(src) for _ in range(n)]
        target.write_text("".join(lines), encoding="utf-8")
    return out_dir


# Questions the embedded model answers right under nq_open's prompt, beside real EfficientQA ones it does not know:
# so exact match is exercised on right answers too ("Paris." and "The Pacific Ocean" normalised as lm-eval does).
EASY_QUESTIONS = [
    {"question": "what is the capital city of france", "answer": ["Paris"]},
    {"question": "what is the largest ocean on earth", "answer": ["Pacific Ocean", "the Pacific"]},
    {"question": "how many days are there in a week", "answer": ["seven", "7"]},
]


def write_short_answer_pool(shared: Path, data_dir: Path, out: Path) -> Path:
    """``data_dir`` copied to ``out`` with an EfficientQA pool of 33 dev questions (32 set aside for exemplars)
    and a test file of the three easy questions and three real ones; the easy ones also open NQ-Open's
    validation file, so its test items are not all Unknown to the embedded model."""
    shutil.copytree(data_dir, out, dirs_exist_ok=True)
    folder = out / "nq_open"
    easy = "".join(json.dumps(q) + "\n" for q in EASY_QUESTIONS)
    dev = (shared / "nq_open/efficientqa_dev.jsonl").read_text().splitlines(keepends=True)[:33]
    test = (shared / "nq_open/efficientqa_test.jsonl").read_text().splitlines(keepends=True)[:3]
    (folder / "efficientqa_dev.jsonl").write_text("".join(dev))
    (folder / "efficientqa_test.jsonl").write_text(easy + "".join(test))
    (folder / "validation.jsonl").write_text(easy + (data_dir / "nq_open/validation.jsonl").read_text())
    return out


def prepare_task_data(tasks: list[str], local_dir: Path, out: Path) -> dict[str, Path]:
    """Each task's data file prepared from ``local_dir`` (the shared layout) into ``out``, as prepare_data does."""
    from ll_hallucination_pipeline.tasks.data import local_source, prepare_dataset
    from ll_hallucination_pipeline.tasks.registry import get_task

    files = {}
    for task in tasks:
        data = get_task(task).data
        files[task] = out / f"{data}.jsonl"
        prepare_dataset(data, files[task], out / f"{data}.json", source=local_source(data, local_dir))
    return files


def write_run(
    root: Path,
    task: str,
    seed: int,
    values: list[float],
    adapter: str | None = None,
    probabilities: list[float] | None = None,
    **meta,
) -> str:
    """A minimal evaluation directory in lm-eval's schema (the fields the summaries and analysis read); a
    multiple-choice item's correct choice has probability ``probabilities[i]`` (default: its value)."""
    import numpy as np

    directory = root / (adapter or "base") / f"{task}_seed{seed}"
    directory.mkdir(parents=True)
    pipeline = {
        "seed": seed,
        "adapter": adapter,
        "model_label": "m",
        "model_path": "/m",
        "quantization": "nf4",
        "device": "cpu",
        "data_sha256": "0" * 64,
        "versions": {"lm-eval": "0.4.13"},
        **meta,
    }
    mean = float(np.mean(values))
    metrics = {"acc,none": mean, "acc_stderr,none": 0.0, "acc_norm,none": mean, "acc_norm_stderr,none": 0.0}
    results = {
        "results": {task: metrics},
        "pipeline": pipeline,
        "versions": {task: 1},
        "n-samples": {task: {"effective": len(values)}},
    }
    (directory / "results.json").write_text(json.dumps(results))
    rows = [{"doc_id": i, "doc_hash": f"h{i:03d}", "acc": v, "acc_norm": v} for i, v in enumerate(values)]
    for row, probability in zip(rows, probabilities or values, strict=True):
        row |= two_choice_item(task, probability)
    (directory / f"samples_{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(directory)


def two_choice_item(task: str, value: float) -> dict:
    """An item of two choices, the first correct, whose probability is ``value`` (held within 0.05-0.95): the
    document and per-choice log-likelihoods (lm-eval's ``resps``) of a multiple-choice task, in ``task``'s shape."""
    import math

    first = min(0.95, max(0.05, value))
    resps = [[[math.log(first), "False"]], [[math.log(1 - first), "False"]]]
    if task.startswith("arc"):
        return {"doc": {"choices": {"label": ["A", "B"], "text": ["a", "b"]}, "answerKey": "A"}, "resps": resps}
    if task.startswith("truthfulqa_mc"):
        target = {"choices": ["a", "b"], "labels": [1, 0]}
        return {"doc": {"mc1_targets": target, "mc2_targets": target}, "resps": resps}
    return {"doc": {"options": ["a", "b"], "answer": 0}, "resps": resps}  # the shape of test_tasks.py's toy task


def run_snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run this repository's Snakefile in ``workdir`` (its own config.yaml); stdout holds both streams."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    merged = {**os.environ, **(env or {})}
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=merged, check=False)


def run_with_external_adapter(
    workdir: Path, baseline_workdir: Path, tiny_data: Path, judge: dict | None = None, **eval_settings
):
    """`snakemake all` in ``workdir`` on ``tiny_data`` with the baseline run's model and its tiny adapter given as
    $MODEL_PATH and $LORA_ADAPTER_PATH (no training), ``eval_settings`` as the config's eval section."""
    write_config(
        workdir,
        data={"source": "local", "local_dir": str(tiny_data)},
        eval=eval_settings,
        qlora={"recipes": []},
        stats={"bootstrap_iterations": 200},
        judge=judge or {},
    )
    return run_snakemake(
        workdir, "all", "--cores", "all", "--resources", "gpu=1", env=external_adapter_env(baseline_workdir)
    )


def external_adapter_env(baseline_workdir: Path) -> dict[str, str]:
    """The baseline run's model and tiny adapter as $MODEL_PATH and $LORA_ADAPTER_PATH."""
    return {
        "MODEL_PATH": str(baseline_workdir / "models/smollm2-135m-instruct"),
        "LORA_ADAPTER_PATH": str(baseline_workdir / "adapters/tiny_seed0"),
    }


def write_config(workdir: Path, **sections: dict) -> Path:
    """Write ``workdir/config.yaml``; recipes come from this repository's configs/ unless given."""
    sections.setdefault("qlora", {})
    sections["qlora"].setdefault("recipes_dir", str(REPO / "configs"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(json.dumps(sections, indent=2))
    return path


def run_lm_eval_hf(model_args: str, tasks: list[str], tasks_dir: Path, out_dir: Path, *extra: str) -> Path:
    """Run plain `python -m lm_eval --model hf` (fp32, CPU) with our local task YAMLs and ``extra`` arguments;
    return its output dir."""
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args", f"{model_args},dtype=float32"]
    cmd += ["--device", "cpu", "--batch_size", "4", "--tasks", ",".join(tasks), "--include_path", str(tasks_dir)]
    cmd += ["--log_samples", "--output_path", str(out_dir), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return out_dir


def probe_prompt_tasks(data_file: Path, exemplars: list[dict], settings, tasks_dir: Path) -> list[str]:
    """The knowledge probe's K prompts as lm-eval tasks over the ARC-schema ``data_file``: one task per prompt
    whose ``doc_to_text`` opens with that prompt's exemplars; their names."""
    from ll_hallucination_pipeline.inference.evaluate import task_yaml
    from ll_hallucination_pipeline.inference.knowledge import arc_choice_item, few_shot_prefixes

    shots = [(q.question, q.choices[q.correct]) for q in map(arc_choice_item, exemplars)]
    prefixes = few_shot_prefixes(shots, settings)
    tasks_dir.mkdir(parents=True, exist_ok=True)
    for n, prefix in enumerate(prefixes):
        task = json.loads(task_yaml("arc_easy", data_file)) | {
            "task": f"probe_{n}",
            "tag": [],
            "doc_to_text": "{% raw %}" + prefix + "{% endraw %}Question: {{question}}\nAnswer:",
        }
        (tasks_dir / f"probe_{n}.yaml").write_text(json.dumps(task))
    return [f"probe_{n}" for n in range(len(prefixes))]


def nq_probe_prompt_tasks(
    items_file: Path, exemplars: list[dict], settings, tasks_dir: Path, *, sampled: bool = False
) -> list[str]:
    """The knowledge probe's K prompts as lm-eval's own nq_open task over ``items_file``: per prompt, its exemplars
    (in order) as the few-shot split, taken first-n, so lm-eval writes the prompt itself (description, delimiters,
    targets); ``sampled``: S answers per item at the probe's temperature instead of the greedy one. Their names."""
    from ll_hallucination_pipeline.inference.evaluate import task_yaml
    from ll_hallucination_pipeline.inference.knowledge import exemplar_sets, nq_open_task

    tasks_dir.mkdir(parents=True, exist_ok=True)
    kind = "sampled" if sampled else "greedy"
    generation = nq_open_task()["generation_kwargs"] | {"max_gen_toks": settings.max_new_tokens}
    if sampled:
        generation |= {"do_sample": True, "temperature": settings.temperature}
    names = []
    for n, picked in enumerate(exemplar_sets(len(exemplars), settings)):
        shots = tasks_dir / f"shots_{n}.jsonl"
        shots.write_text("".join(json.dumps(exemplars[i]) + "\n" for i in picked))
        name = f"nq_probe_{kind}_{n}"
        task = json.loads(task_yaml("nq_open", items_file)) | {
            "task": name,
            "tag": [],
            "training_split": "train",
            "dataset_kwargs": {"data_files": {"validation": str(Path(items_file).resolve()), "train": str(shots)}},
            "fewshot_config": {"sampler": "first_n"},
            "num_fewshot": settings.shots,
            "generation_kwargs": generation,
            **({"repeats": settings.samples} if sampled else {}),
        }
        (tasks_dir / f"{name}.yaml").write_text(json.dumps(task))
        names.append(name)
    return names


def per_sequence_attention(q, k, v, cu_q, cu_k, max_q, max_k, *, scale=None, **causal):
    """``torch.nn.attention.varlen.varlen_attn`` on the CPU: each sequence of the ``[tokens, heads, dim]`` inputs
    attends causally to itself, in their dtype."""
    assert causal in ({"is_causal": True}, {"window_size": (-1, 0)}) and k.shape == q.shape
    out = torch.empty_like(q)
    for start, end in zip(cu_q[:-1].tolist(), cu_q[1:].tolist(), strict=True):
        piece = [t[start:end].transpose(0, 1) for t in (q, k, v)]  # [heads, tokens, dim]
        out[start:end] = torch.nn.functional.scaled_dot_product_attention(
            *piece, is_causal=True, scale=scale
        ).transpose(0, 1)
    return out


def packed_training_losses(
    model: torch.nn.Module,
    learning_rates: list[float],
    *,
    rows: int,
    lengths: tuple[int, int],
    vocab: int,
    autocast: bool,
) -> list[float]:
    """One AdamW step per learning rate on trl's padding-free batches (``rows`` rows of three random sequences of
    ``lengths`` tokens each, from a fixed seed), under bf16 autocast or not; the loss of each step."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    collate = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)
    data = torch.Generator().manual_seed(1)
    losses = []
    for learning_rate in learning_rates:
        optimizer.param_groups[0]["lr"] = learning_rate
        sizes = [torch.randint(*lengths, (3,), generator=data).tolist() for _ in range(rows)]
        batch = [
            {"input_ids": torch.randint(1, vocab, (sum(n),), generator=data).tolist(), "seq_lengths": n} for n in sizes
        ]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(**collate(batch), use_cache=False).loss  # trl passes use_cache=False too
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses
