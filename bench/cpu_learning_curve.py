"""A knowledge mix's training job through Snakemake on the CPU: the learning curve's cost beside training's.

Figure in bench/RESULTS.md: under 'CPU', the learning curve's cost.

    uv run python bench/cpu_learning_curve.py WORKDIR [CHECKOUT]
The first call in WORKDIR writes a study (the embedded model as MODEL_PATH, ARC-Easy's first 200 train items as
the pool, a mix of 32 examples half Unknown, 2 epochs of micro-batches of 8, 5 curve points on 8 held-out items a
category) and builds the mix; every call then runs the train rule again (--forcerun) with CHECKOUT's Snakefile and
package (its .venv; default this checkout), and prints the manifest's seconds and learning_curve_seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LLHP_SHARED_DATA", REPO.parent / "shared/data"))
MODEL = REPO / "models/smollm2-135m-instruct"
RECIPE = """[data]
knowledge = { pool = "arc_easy_train", unknown_fraction = 0.5, size = 32 }
[lora]
r = 8
alpha = 16
dropout = 0.0
[training]
learning_rate = 1e-3
lr_scheduler = "constant"
epochs = 2
micro_batch_size = 8
gradient_accumulation = 1
max_seq_length = 128
seeds = [0]
"""


def prepare(workdir: Path) -> None:
    sys.path.insert(0, str(REPO))
    from tests.helpers import write_config, write_subset

    data = write_subset(DATA, workdir / "data-src", 6)
    pool = (DATA / "arc_easy/train.jsonl").read_text().splitlines(keepends=True)[:200]
    (data / "arc_easy/train.jsonl").write_text("".join(pool))
    (workdir / "configs").mkdir(exist_ok=True)
    (workdir / "configs/qlora_curve.toml").write_text(RECIPE)
    write_config(
        workdir,
        data={"source": "local", "local_dir": str(data)},
        eval={"tasks": ["arc_easy"], "seeds": [0]},
        qlora={"recipes": ["curve"], "recipes_dir": str(workdir / "configs")},
        knowledge={"probe": {"prompts": 5, "shots": 2, "samples": 4}, "heldout": 8, "curve_points": 5},
    )


def main(workdir: Path, checkout: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "config.yaml").exists():
        prepare(workdir)
    shutil.rmtree(workdir / "adapters", ignore_errors=True)
    cmd = [str(checkout / ".venv/bin/python"), "-m", "snakemake", "-s", str(checkout / "Snakefile"), "-d", str(workdir)]
    cmd += ["adapters/curve_seed0", "--cores", "all", "--resources", "gpu=1", "--forcerun", "train_qlora"]
    done = subprocess.run(cmd, env={**os.environ, "MODEL_PATH": str(MODEL)}, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    manifest = json.loads((workdir / "adapters/curve_seed0/manifest.json").read_text())
    keys = ("global_steps", "seconds", "learning_curve_seconds")
    print(json.dumps({"checkout": str(checkout), **{k: manifest[k] for k in keys}}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else REPO)
