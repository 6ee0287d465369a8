"""The knowledge probe's cost per item on the GPU: ours through Snakemake against the same answers through
``lm_eval --model hf``.

Figures in bench/RESULTS.md: under 'The knowledge probe (SliCK)', the probe of a set through the DAG, the
runbook way's cost of the same answers, and the learning curve's cost beside training's.

On the GPU machine, from the repo root, after `bash bench/gpu_study.sh install .whl-study`:
    python3 bench/gpu_probe.py ours DIR [SET [ITEMS [BUDGET]]]
        snakemake evals/knowledge/SET/counts.csv with MODEL_PATH=DIR at the paper's defaults (SET: arc_easy_train);
        for the short-answer pool nq_open_pool, ITEMS of it (its first 32 dev items set aside for exemplars as
        always) and eval.token_budget BUDGET (default auto), each in its own workdir
    python3 bench/gpu_probe.py hf DIR SET LIMIT...
        the same prompts as lm-eval tasks on an NF4 copy of DIR, batch auto max 4, the first LIMIT items, from
        process start: every K prompt of ARC; the first prompt of NQ, greedy and then its S samples (lm-eval's
        repeats at the probe's temperature), whose cost times K is the whole probe's
    python3 bench/gpu_probe.py curve DIR [SIZE [EPOCHS]]
        snakemake a knowledge mix's adapter with MODEL_PATH=DIR: SIZE (default 240) ARC-Easy train questions, half
        Unknown, EPOCHS (default 4) epochs, the curve at the config's defaults; the training job's seconds against
        its learning curve's (the adapter's manifest)
Each phase appends records to $OUT/bench.jsonl.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
from common import OUT, REPO, WORK, record, runbook_lm_eval, save_nf4
from gpu_study import DATA, rule_times, snakemake


def probe_dir(probe_set: str, items: str | None = None, budget: str = "auto") -> Path:
    return WORK / f"probe-{probe_set}-{items or 'all'}-{budget}"


def _pool_subset(items: int, out: Path) -> Path:
    """The bench data with an EfficientQA pool of ``items`` items: the 32 set-aside dev items, then ``items``
    more, half from the dev file and half from the test file."""
    shutil.copytree(DATA, out, dirs_exist_ok=True)
    for name, count in (("efficientqa_dev", 32 + items // 2), ("efficientqa_test", items - items // 2)):
        lines = (DATA / f"nq_open/{name}.jsonl").read_text().splitlines(keepends=True)[:count]
        (out / f"nq_open/{name}.jsonl").write_text("".join(lines))
    return out


def ours(model_dir: str, probe_set: str = "arc_easy_train", items: str | None = None, budget: str = "auto") -> None:
    """The probe of ``probe_set`` at the config's defaults, from a fresh workdir, through Snakemake."""
    workdir = probe_dir(probe_set, items, budget)
    workdir.mkdir(parents=True, exist_ok=True)
    data = _pool_subset(int(items), workdir / "local-data") if items else DATA
    config = {
        "data": {"source": "local", "local_dir": str(data)},
        "eval": {"token_budget": budget if budget == "auto" else int(budget)},
        "knowledge": {"sets": [probe_set]},
        "qlora": {"recipes": []},
    }
    (workdir / "config.yaml").write_text(json.dumps(config))
    target = f"evals/knowledge/{probe_set}/counts.csv"
    wall = snakemake(workdir, target, "--cores", "all", "--resources", "gpu=1", env={"MODEL_PATH": model_dir})
    probed = pd.read_csv(workdir / f"evals/knowledge/{probe_set}/items.csv")
    probe_seconds = rule_times(workdir)[f"probe_knowledge/{probe_set}"]
    log = (workdir / f"logs/probe_knowledge/{probe_set}.log").read_text().splitlines()
    cost = next((json.loads(line.split("probe cost: ", 1)[1]) for line in log if "probe cost: " in line), {})
    decoded = cost.get("generated_tokens", 0) / max(cost.get("generation_seconds", 0), 1e-9)
    record(
        {
            "phase": "probe_ours",
            "set": probe_set,
            "items": len(probed),
            "token_budget": budget,
            "wall_seconds": wall,
            "rules": rule_times(workdir),
            "probe_job_seconds": probe_seconds,
            "seconds_per_item": round(probe_seconds / len(probed), 4),
            "decode_tokens_per_second": round(decoded),
            "cost": cost,
            "counts": probed["category"].value_counts().to_dict(),
        }
    )


def hf(model_dir: str, probe_set: str, *limits: str) -> None:
    """The probe's prompts through ``lm_eval --model hf`` on the first ``limits`` items of the set ours probed:
    per run, the seconds from process start and whether its greedy answers equal ours item for item."""
    from ll_hallucination_pipeline.inference.knowledge import PROBE_SETS, ProbeSettings
    from ll_hallucination_pipeline.tasks.data import read_jsonl
    from tests.helpers import nq_probe_prompt_tasks, probe_prompt_tasks

    nf4 = WORK / "probe-nf4"
    if not nf4.exists():
        save_nf4(Path(model_dir), nf4)
    settings = ProbeSettings()
    workdir = next(WORK.glob(f"probe-{probe_set}-*"))
    spec = PROBE_SETS[probe_set]
    data = workdir / f"data/{spec.data}.jsonl"
    exemplars = read_jsonl(workdir / f"data/{spec.exemplars}.jsonl")
    tasks = WORK / f"probe-tasks-{probe_set}"
    ours_greedy = pd.read_csv(workdir / f"evals/knowledge/{probe_set}/items.csv")["greedy_right"]
    if spec.kind == "short_answer":
        runs = {
            "greedy": nq_probe_prompt_tasks(data, exemplars, settings, tasks)[:1],
            "sampled": nq_probe_prompt_tasks(data, exemplars, settings, tasks, sampled=True)[:1],
        }
        extra = ("--num_fewshot", str(settings.shots))
    else:
        runs = {"greedy": probe_prompt_tasks(data, exemplars, settings, tasks)}
        extra = ()
    metric = "exact_match" if spec.kind == "short_answer" else "acc"
    for kind, names in runs.items():
        for limit in limits:
            out = WORK / f"probe-hf-{probe_set}-{kind}-{limit}"
            run = runbook_lm_eval(nf4, ",".join(names), tasks, out, limit=limit, extra=extra)
            same = None
            if kind == "greedy" and len(names) == settings.prompts:
                greedy = pd.Series(0, index=range(int(limit)))
                for name in names:
                    for row in read_jsonl(next(out.rglob(f"samples_{name}_*.jsonl"))):
                        greedy[row["doc_id"]] += int(row[metric])
                same = f"{int((greedy == ours_greedy[: int(limit)]).sum())}/{limit}"
            record(
                {
                    "phase": "probe_hf",
                    "set": probe_set,
                    "answers": kind,
                    **run,
                    "prompts": len(names),
                    "greedy_right_equal_to_ours": same,
                }
            )


CURVE_RECIPE = """[data]
knowledge = {{ pool = "arc_easy_train", unknown_fraction = 0.5, size = {size} }}
[lora]
r = 16
alpha = 32
dropout = 0.0
target_modules = "all-linear"
[training]
learning_rate = 1e-4
epochs = {epochs}
micro_batch_size = 8
max_seq_length = 128
packing = false
seeds = [0]
"""


def curve(model_dir: str, size: str = "240", epochs: str = "4") -> None:
    """A knowledge mix's training job with its learning curve, from a fresh workdir, through Snakemake."""
    workdir = WORK / f"curve-{size}-{epochs}"
    (workdir / "configs").mkdir(parents=True, exist_ok=True)
    (workdir / "configs/qlora_mix.toml").write_text(CURVE_RECIPE.format(size=int(size), epochs=int(epochs)))
    config = {
        "data": {"source": "local", "local_dir": str(DATA)},
        "qlora": {"recipes": ["mix"], "recipes_dir": str(workdir / "configs")},
    }
    (workdir / "config.yaml").write_text(json.dumps(config))
    wall = snakemake(
        workdir, "adapters/mix_seed0", "--cores", "all", "--resources", "gpu=1", env={"MODEL_PATH": model_dir}
    )
    manifest = json.loads((workdir / "adapters/mix_seed0/manifest.json").read_text())
    table = pd.read_csv(workdir / "adapters/mix_seed0/fit_by_category.csv")
    training = manifest["seconds"] - manifest["learning_curve_seconds"]
    record(
        {
            "phase": "curve",
            "examples": int(size),
            "epochs": int(epochs),
            "wall_seconds": wall,
            "rules": rule_times(workdir),
            **{key: manifest[key] for key in ("global_steps", "real_tokens", "seconds", "learning_curve_seconds")},
            "training_seconds_without_curve": round(training, 1),
            "curve_over_training": round(manifest["learning_curve_seconds"] / training, 3),
            "points": sorted(table["step"].unique().tolist()),
            "examples_per_point": int(table[table["step"] == 0]["examples"].sum()),
        }
    )


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    OUT.mkdir(parents=True, exist_ok=True)
    phase, *rest = sys.argv[1:]
    {"ours": ours, "hf": hf, "curve": curve}[phase](*rest)
