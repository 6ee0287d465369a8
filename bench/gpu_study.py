"""The whole study through Snakemake on GPUs, as users run it, beside the runbook way's parts.

Figures in bench/RESULTS.md: under 'The study as users run it', the whole study, the runbook way's evaluation and
training, the per-pass and whole-study ratios, the 24 GB card, training in the study, the per-job table; the rows
under 'Several GPUs'.

Here, first: `bash bench/gpu_prepare.sh` (wheels, the embedded tokenizer, task and Alpaca data; all git-ignored).
On the GPU machine, from the repo root, with the wheels installed (`bench/gpu_study.sh` does all of it):
    python3 bench/gpu_study.py build 8b|small DIR  # random-weight bf16 checkpoint, the embedded tokenizer
    python3 bench/gpu_study.py study DIR           # README command 1 with MODEL_PATH=DIR (STUDY_RECIPE, default
                                                   # alpaca_10k_fast; STUDY_DATA, default .bench/data;
                                                   # BENCH_CARD_GIB=23: another process leaves a 24 GB card)
    python3 bench/gpu_study.py baseline DIR        # ours' evaluation pass: the evaluate_baseline job, MODEL_PATH=DIR
    python3 bench/gpu_study.py runbook-eval DIR    # the runbook way: lm_eval --model hf on an NF4 copy, one pass
                                                   # per task, each timed from process start
    python3 bench/gpu_study.py runbook-train DIR N # the runbook's recipe as written, N steps (trl's SFTTrainer)
    python3 bench/gpu_study.py twogpu DIR 2|1      # the small study, two GPU jobs at once (each on its own GPU) or one
    python3 bench/gpu_study.py twogpu-compare      # the two runs' results and adapters, byte for byte
    python3 bench/gpu_study.py summary             # per-rule table, totals and ratios from $OUT/bench.jsonl
Everything goes through the pipeline's public settings: config.yaml, recipe files, MODEL_PATH,
CUDA_VISIBLE_DEVICES and Snakemake's own command line. Each phase appends records to $OUT/bench.jsonl.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import (
    OUT,
    REPO,
    WORK,
    build_checkpoint,
    elapsed,
    leave_card_of,
    prepare_tasks,
    record,
    records,
    runbook_lm_eval,
    save_nf4,
)

DATA = Path(os.environ.get("STUDY_DATA", REPO / ".bench/data"))
TASKS = ("truthfulqa_mc2", "arc_easy")
SCORER_FIGURES = ("tokens_run", "batches", "scoring_seconds", "tokens_per_second", "peak_gpu_gib")
PASSES = 6  # the study's evaluation passes: baseline and one adapter, x 3 seeds


class GpuMemory:
    """Samples ``nvidia-smi`` every half second: peak memory per GPU, which processes ran on which GPU, and the
    peak of the study's own processes together (all but ``other_pids``, e.g. the process that shrinks the card)."""

    def __init__(self, log_file: Path | None = None, other_pids: tuple[int, ...] = ()) -> None:
        self.peak: dict[str, int] = {}
        self.own_peak = 0
        self.other_pids = {str(pid) for pid in other_pids}
        self.log_file = log_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuMemory:
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _query(self, what: str) -> list[list[str]]:
        cmd = ["nvidia-smi", f"--query-{what}", "--format=csv,noheader,nounits"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return [[cell.strip() for cell in line.split(",")] for line in done.stdout.splitlines() if line.strip()]

    def _run(self) -> None:
        bus_to_index = {bus: index for index, bus in self._query("gpu=index,pci.bus_id")}
        while not self._stop.wait(0.5):
            for index, used in self._query("gpu=index,memory.used"):
                self.peak[index] = max(self.peak.get(index, 0), int(used))
            apps = self._query("compute-apps=pid,gpu_bus_id,used_memory")
            own = sum(int(used) for pid, _, used in apps if pid not in self.other_pids and used.isdigit())
            self.own_peak = max(self.own_peak, own)
            if self.log_file:
                with open(self.log_file, "a") as handle:
                    stamp = time.strftime("%H:%M:%S")
                    for pid, bus, used in apps:
                        handle.write(f"{stamp} gpu {bus_to_index.get(bus, bus)} pid {pid} {used} MiB\n")

    def peak_gib(self) -> dict[str, float]:
        return {index: round(mib / 1024, 2) for index, mib in sorted(self.peak.items())}


def write_config(workdir: Path, recipe: str | None, data_dir: Path, recipes_dir: Path = REPO / "configs") -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "data": {"source": "local", "local_dir": str(data_dir)},
        "qlora": {"recipes": [recipe] if recipe else [], "recipes_dir": str(recipes_dir)},
    }
    (workdir / "config.yaml").write_text(json.dumps(config, indent=2))


def snakemake(workdir: Path, *args: str, env: dict[str, str], output: str = "snakemake.out") -> float:
    """Run this repository's Snakefile in ``workdir``; Snakemake's output goes to ``workdir/<output>``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    start = time.perf_counter()
    with open(workdir / output, "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, check=False)
    if done.returncode != 0:
        shutil.copy(workdir / output, OUT / f"{workdir.name}-{output}")
        print((workdir / output).read_text()[-6000:])
        raise SystemExit(f"snakemake failed in {workdir} (rc {done.returncode})")
    return elapsed(start)


def rule_times(workdir: Path) -> dict[str, float]:
    """Each job's wall time, from Snakemake's benchmark files: benchmarks/<rule>[/<wildcards>].tsv."""
    times = {}
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        with open(tsv) as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        times[tsv.relative_to(workdir / "benchmarks").with_suffix("").as_posix()] = round(float(row["s"]), 1)
    return times


def load_seconds(workdir: Path) -> dict[str, float]:
    """Seconds each GPU job spent loading the model, from the 'model loaded ... in N s' lines of its log."""
    found = {}
    for log in sorted((workdir / "logs").rglob("*.log")):
        for line in log.read_text().splitlines():
            if "model loaded" in line:
                found[log.relative_to(workdir / "logs").with_suffix("").as_posix()] = float(line.split(" in ")[-1][:-2])
    return found


def study(model_dir: Path) -> None:
    """README command 1 with MODEL_PATH: every rule, timed by its benchmark file, peak GPU memory sampled."""
    recipe = os.environ.get("STUDY_RECIPE", "alpaca_10k_fast")
    card = os.environ.get("BENCH_CARD_GIB")
    holder = (leave_card_of(float(card)),) if card else ()
    workdir = WORK / "study"
    shutil.rmtree(workdir, ignore_errors=True)
    write_config(workdir, recipe, DATA)
    try:
        with GpuMemory(other_pids=holder) as memory:
            wall = snakemake(
                workdir, "all", "--cores", "all", "--resources", "gpu=1", env={"MODEL_PATH": str(model_dir)}
            )
    finally:  # what finished, also when the study fails or is stopped
        record({"phase": "study_jobs", "rules": rule_times(workdir), "model_loads": load_seconds(workdir)})
    report_seconds = snakemake(
        workdir, "--report", "report.html", env={"MODEL_PATH": str(model_dir)}, output="snakemake-report.out"
    )
    scoring = {
        run.parent.relative_to(workdir / "evals").as_posix(): json.loads(run.read_text())
        for run in sorted((workdir / "evals").rglob("scoring.json"))
    }
    computed = {name: s for name, s in scoring.items() if s.get("scored")}
    manifest = json.loads(next((workdir / "adapters").glob("*/manifest.json")).read_text())
    record(
        {
            "phase": "study",
            "recipe": recipe,
            "wall_seconds": wall,
            "report_seconds": report_seconds,
            "rules": rule_times(workdir),
            "model_loads": load_seconds(workdir),
            "card_gib": card,
            "peak_gpu_gib": memory.peak_gib(),
            "peak_study_processes_gib": round(memory.own_peak / 1024, 2),
            "scorer": {name: {k: s[k] for k in SCORER_FIGURES} for name, s in computed.items()},
            "training": {
                k: manifest[k]
                for k in ("global_steps", "real_tokens", "tokens_per_second", "seconds", "layers_keeping_activations")
            },
            "train_loss": manifest["train_loss"],
        }
    )
    for name in ("evals/compare/deltas.csv", "evals/baseline/summary.csv"):
        shutil.copy(workdir / name, OUT / f"study-{Path(name).parent.name}-{Path(name).name}")
    for log in [workdir / "snakemake.out", *(workdir / "logs").rglob("evaluate_*.log")]:  # each job's timeline
        shutil.copy(log, OUT / f"study-{log.relative_to(workdir).as_posix().replace('/', '-')}")


def baseline(model_dir: Path) -> None:
    """Ours' evaluation pass as users run it: the evaluate_baseline job (both tasks, every seed, from its process
    start) of `snakemake evals/baseline/summary.csv` with MODEL_PATH, in a fresh workdir."""
    workdir = WORK / "baseline"
    shutil.rmtree(workdir, ignore_errors=True)
    write_config(workdir, None, DATA)
    env = {"MODEL_PATH": str(model_dir)}
    wall = snakemake(workdir, "evals/baseline/summary.csv", "--cores", "all", "--resources", "gpu=1", env=env)
    times, loads = rule_times(workdir), load_seconds(workdir)
    record({"phase": "baseline", "wall_seconds": wall, "rules": times, "model_loads": loads})


def runbook_workdir(steps: int) -> Path:
    """A workdir whose one recipe, ``runbook``, is qlora_alpaca_10k.toml as written, stopped after ``steps``."""
    workdir = WORK / "runbook"
    recipes = workdir / "configs"
    recipes.mkdir(parents=True, exist_ok=True)
    recipe = (REPO / "configs/qlora_alpaca_10k.toml").read_text()
    (recipes / "qlora_runbook.toml").write_text(recipe.replace("epochs = 1", f"epochs = 1\nmax_steps = {steps}"))
    write_config(workdir, "runbook", DATA, recipes)
    return workdir


def runbook_eval(model_dir: Path) -> None:
    """The runbook's evaluation: lm_eval's hf backend on an NF4 copy (transformers 5 takes no load_in_4bit
    model args), one full pass per task, each timed from process start to results."""
    workdir = WORK / "runbook"
    tasks_dir = prepare_tasks(list(TASKS), workdir, DATA)
    start = time.perf_counter()
    nf4 = WORK / "nf4"
    save_nf4(model_dir, nf4)
    record({"phase": "runbook_nf4_copy", "seconds": elapsed(start)})
    for task in TASKS:
        run = runbook_lm_eval(nf4, task, tasks_dir, workdir / "lm_eval" / task)
        record({"phase": "runbook_eval", **run})


def runbook_train(model_dir: Path, steps: int) -> None:
    """The runbook's recipe as written, through the pipeline's train rule (trl's SFTTrainer), for ``steps``."""
    workdir = runbook_workdir(steps)
    env = {"MODEL_PATH": str(model_dir)}
    snakemake(workdir, "adapters/runbook_seed0", "--cores", "all", "--resources", "gpu=1", env=env)
    adapter = workdir / "adapters/runbook_seed0"
    with open(adapter / "training_log.csv") as handle:
        steps_logged = list(csv.DictReader(handle))
    first, last = steps_logged[0], steps_logged[-1]
    after_first = (float(last["num_tokens"]) - float(first["num_tokens"])) / (
        float(last["elapsed_s"]) - float(first["elapsed_s"])
    )
    manifest = json.loads((adapter / "manifest.json").read_text())
    record(
        {
            "phase": "runbook_train",
            "steps": manifest["global_steps"],
            "real_tokens": manifest["real_tokens"],
            "tokens_per_second": round(manifest["tokens_per_second"]),
            "tokens_per_second_after_step_1": round(after_first),
            "job_seconds": rule_times(workdir).get("train_qlora/runbook_seed0"),
        }
    )


def twogpu(model_dir: Path, gpus: str) -> None:
    """The small study (two adapters) with ``--resources gpu=GPUS``: at 2, two GPU jobs at once, each on a GPU
    it claims; at 1, one at a time. Records which job claimed which devices; nvidia-smi's processes per GPU
    go to $OUT/nvidia-smi-gpusN.txt. Leave CUDA_VISIBLE_DEVICES unset for the jobs to choose, as on a workstation."""
    recipes = WORK / "twogpu-configs"
    recipes.mkdir(parents=True, exist_ok=True)
    tiny = (REPO / "configs/qlora_tiny.toml").read_text()
    (recipes / "qlora_two.toml").write_text(tiny.replace("seeds = [0]", "seeds = [0, 1]"))
    workdir = WORK / f"gpus{gpus}"
    shutil.rmtree(workdir, ignore_errors=True)
    write_config(workdir, "two", DATA, recipes)
    with GpuMemory(OUT / f"nvidia-smi-gpus{gpus}.txt") as memory:
        wall = snakemake(
            workdir, "all", "--cores", "all", "--resources", f"gpu={gpus}", env={"MODEL_PATH": str(model_dir)}
        )
    claims = {}
    for log in sorted((workdir / "logs").rglob("*.log")):
        claims |= {
            log.relative_to(workdir / "logs").as_posix(): line.split(": ", 1)[1]
            for line in log.read_text().splitlines()
            if line.startswith("GPU job:")
        }
    record(
        {
            "phase": "twogpu",
            "gpus": gpus,
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
            "wall_seconds": wall,
            "claims": claims,
            "peak_gpu_gib": memory.peak_gib(),
            "rules": rule_times(workdir),
        }
    )


def twogpu_compare() -> None:
    """Whether the two-GPU run's results equal the one-GPU run's, file by file and adapter by adapter."""
    same = {}
    for name in ("evals/baseline/summary.csv", "evals/postqlora/summary.csv", "evals/compare/deltas.csv"):
        same[name] = (WORK / "gpus2" / name).read_bytes() == (WORK / "gpus1" / name).read_bytes()
    adapters = {
        name: (WORK / "gpus2/adapters" / name / "adapter_model.safetensors").read_bytes()
        == (WORK / "gpus1/adapters" / name / "adapter_model.safetensors").read_bytes()
        for name in ("two_seed0", "two_seed1")
    }
    record({"phase": "twogpu_compare", "identical_files": same, "identical_adapters": adapters})


def summary() -> None:
    entries = records()
    study_run = next(e for e in reversed(entries) if e["phase"] == "study")
    print(
        f"card: {study_run.get('card_gib') or 'whole GPU'} GiB left free; peak of the study's processes "
        f"{study_run.get('peak_study_processes_gib')} GiB (whole GPU {study_run['peak_gpu_gib']})"
    )
    print(f"{'job':<48} {'seconds':>8}")
    for job, seconds in study_run["rules"].items():
        print(f"{job:<48} {seconds:>8.1f}")
    print(f"{'study wall (snakemake all)':<48} {study_run['wall_seconds']:>8.1f}")
    print(f"{'report (snakemake --report)':<48} {study_run['report_seconds']:>8.1f}")
    ours_pass = study_run["rules"]["evaluate_baseline"]  # both tasks, every seed, one job
    runbook_evals = {e["task"]: e["seconds"] for e in entries if e["phase"] == "runbook_eval" and e["rc"] == 0}
    train = next((e for e in entries if e["phase"] == "runbook_train"), None)
    if len(runbook_evals) == len(TASKS) and train:
        runbook_pass = sum(runbook_evals.values())
        runbook_training = study_run["training"]["real_tokens"] / train["tokens_per_second_after_step_1"]
        total = PASSES * runbook_pass + runbook_training
        record(
            {
                "phase": "summary",
                "ours_total_s": study_run["wall_seconds"],
                "runbook_total_s": round(total, 1),
                "total_ratio": round(total / study_run["wall_seconds"], 1),
                "ours_pass_s": round(ours_pass, 1),
                "runbook_pass_s": round(runbook_pass, 1),
                "pass_ratio": round(runbook_pass / ours_pass, 1),
                "runbook_training_s": round(runbook_training, 1),
                "peak_gpu_gib": study_run["peak_gpu_gib"],
            }
        )


if __name__ == "__main__":
    phase, *args = sys.argv[1:]
    if phase == "build":
        build_checkpoint(args[0], Path(args[1]))
    elif phase == "study":
        study(Path(args[0]))
    elif phase == "baseline":
        baseline(Path(args[0]))
    elif phase == "runbook-eval":
        runbook_eval(Path(args[0]))
    elif phase == "runbook-train":
        runbook_train(Path(args[0]), int(args[1]))
    elif phase == "twogpu":
        twogpu(Path(args[0]), args[1])
    elif phase == "twogpu-compare":
        twogpu_compare()
    elif phase == "summary":
        summary()
    else:
        raise SystemExit(__doc__)
