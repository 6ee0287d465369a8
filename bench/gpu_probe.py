"""The knowledge probe's cost per item on the GPU: ours through Snakemake against the same answers through
``lm_eval --model hf``.

Figures in bench/RESULTS.md: under 'The knowledge probe (SliCK)', the probe of a set through the DAG and the
runbook way's cost of the same answers.

On the GPU machine, from the repo root, after `bash bench/gpu_study.sh install .whl-study`:
    python3 bench/gpu_probe.py ours DIR [SET]        # snakemake evals/knowledge/SET/counts.csv with MODEL_PATH=DIR,
                                                     # the paper's defaults (SET: arc_easy_train)
    python3 bench/gpu_probe.py hf DIR LIMIT...       # the same K prompts as lm-eval tasks on an NF4 copy of DIR,
                                                     # batch auto max 4, the first LIMIT items, from process start
Each phase appends records to $OUT/bench.jsonl.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from common import OUT, REPO, WORK, record, runbook_lm_eval, save_nf4
from gpu_study import DATA, rule_times, snakemake

PROBE_DIR = WORK / "probe"


def ours(model_dir: str, probe_set: str = "arc_easy_train") -> None:
    """The probe of ``probe_set`` at the config's defaults, from a fresh workdir, through Snakemake."""
    PROBE_DIR.mkdir(parents=True, exist_ok=True)
    config = {
        "data": {"source": "local", "local_dir": str(DATA)},
        "knowledge": {"sets": [probe_set]},
        "qlora": {"recipes": []},
    }
    (PROBE_DIR / "config.yaml").write_text(json.dumps(config))
    target = f"evals/knowledge/{probe_set}/counts.csv"
    wall = snakemake(PROBE_DIR, target, "--cores", "all", "--resources", "gpu=1", env={"MODEL_PATH": model_dir})
    items = pd.read_csv(PROBE_DIR / f"evals/knowledge/{probe_set}/items.csv")
    probe_seconds = rule_times(PROBE_DIR)[f"probe_knowledge/{probe_set}"]
    log = (PROBE_DIR / f"logs/probe_knowledge/{probe_set}.log").read_text().splitlines()
    record(
        {
            "phase": "probe_ours",
            "set": probe_set,
            "items": len(items),
            "wall_seconds": wall,
            "rules": rule_times(PROBE_DIR),
            "probe_job_seconds": probe_seconds,
            "seconds_per_item": round(probe_seconds / len(items), 4),
            "counts": items["category"].value_counts().to_dict(),
            "log_tail": log[-8:],
        }
    )


def hf(model_dir: str, *limits: str) -> None:
    """The probe's K prompts through ``lm_eval --model hf`` on the first ``limits`` items of the set ours probed:
    per run, the seconds from process start and whether its greedy answers equal ours item for item."""
    from ll_hallucination_pipeline.inference.knowledge import ProbeSettings
    from ll_hallucination_pipeline.tasks.data import read_jsonl
    from tests.helpers import probe_prompt_tasks

    nf4 = WORK / "probe-nf4"
    if not nf4.exists():
        save_nf4(Path(model_dir), nf4)
    data = PROBE_DIR / "data/arc_easy_train.jsonl"
    exemplars = read_jsonl(PROBE_DIR / "data/arc_easy_validation.jsonl")
    names = probe_prompt_tasks(data, exemplars, ProbeSettings(), WORK / "probe-tasks")
    ours_greedy = pd.read_csv(PROBE_DIR / "evals/knowledge/arc_easy_train/items.csv")["greedy_right"]
    for limit in limits:
        out = WORK / f"probe-hf-{limit}"
        run = runbook_lm_eval(nf4, ",".join(names), WORK / "probe-tasks", out, limit=limit)
        greedy = pd.Series(0, index=range(int(limit)))
        for name in names:
            for row in read_jsonl(next(out.rglob(f"samples_{name}_*.jsonl"))):
                greedy[row["doc_id"]] += int(row["acc"])
        same = int((greedy == ours_greedy[: int(limit)]).sum())
        record({"phase": "probe_hf", **run, "prompts": len(names), "greedy_right_equal_to_ours": f"{same}/{limit}"})


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    OUT.mkdir(parents=True, exist_ok=True)
    phase, *rest = sys.argv[1:]
    {"ours": ours, "hf": hf}[phase](*rest)
