"""What the bench scripts share: where they work and what they record, the machine they ran on, the 8B-shaped
checkpoint, a smaller card simulated, and the runbook way (plain ``lm_eval --model hf`` on an NF4 copy).

No figure of its own: the helpers the GPU bench scripts share.

Every record goes, one JSON line each, to ``$OUT/bench.jsonl`` (``$OUT`` on the GPU machine comes back with the
call) and to the console; a process's first record says which machine and commit it ran on.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The package as this checkout has it (also where it is not installed), and the tests' data helpers.
sys.path[:0] = [str(REPO / "src"), str(REPO)]
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/bench"))  # kept on a warm GPU machine between calls
OUT = Path(os.environ.get("OUT", "/tmp/bench-out"))
BENCH_DATA = REPO / ".bench/data"  # the shared layout, made here by bench/gpu_prepare.sh
BENCH_TOKENIZER = REPO / ".bench/tok"  # the embedded model's tokenizer
# Here (CPU benches): the embedded model as the convert_model rule leaves it, and the shared data.
CONVERTED_MODEL = REPO / "models/smollm2-135m-instruct"
SHARED_DATA = Path(os.environ.get("LLHP_SHARED_DATA", REPO.parent / "shared/data"))
# Qwen3-8B's shapes (its config.json), vocabulary kept at Qwen3's size; "small" is for the two-GPU check.
SHAPES = {
    "8b": {"hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32},
    "small": {"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 16},
}
COMMON_SHAPE = {
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1_000_000.0,
    "tie_word_embeddings": False,
}
_described = False


def machine() -> dict:
    """The machine and commit a figure was measured on: GPU names (nvidia-smi), CPU model, cores."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    gpus = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"]).splitlines()
    # A copy of the checkout on the GPU machine may carry another commit's .git: the caller's word wins.
    commit = os.environ.get("BENCH_COMMIT") or _run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).strip()
    return {"gpus": gpus, "cpu": cpu, "cores": os.cpu_count(), "commit": commit}


def record(entry: dict) -> None:
    """Print ``entry`` and append it to ``$OUT/bench.jsonl`` (the machine first, once per process)."""
    global _described
    if not _described:
        _described = True
        record({"phase": "machine", **machine()})
    print(json.dumps(entry), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "bench.jsonl", "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def records(*files: str | Path) -> list[dict]:
    """Every record of ``files`` (default: ``$OUT/bench.jsonl``)."""
    return [json.loads(line) for f in files or [OUT / "bench.jsonl"] for line in Path(f).read_text().splitlines()]


def elapsed(start: float) -> float:
    return round(time.perf_counter() - start, 1)


def build_checkpoint(shape: str, model_dir: Path) -> None:
    """A random-weight Qwen3-shaped checkpoint saved in bf16, as users have theirs, with the embedded tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(BENCH_TOKENIZER)
    config = Qwen3Config(
        **SHAPES[shape], **COMMON_SHAPE, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    size = sum(f.stat().st_size for f in model_dir.glob("*.safetensors"))
    record({"phase": "build", "shape": shape, "gib": round(size / 2**30, 2), "seconds": elapsed(start)})


def save_nf4(source: Path, target: Path) -> None:
    """Quantize ``source`` to NF4 (double quant, bf16 compute) once and save it: the runbook's lm-eval cannot
    quantize at load under transformers 5, and both scorers then read the same file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    nf4 = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    model = AutoModelForCausalLM.from_pretrained(source, quantization_config=nf4, device_map={"": "cuda"})
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)


def leave_card_of(gib: float) -> int:
    """Hold all but ``gib`` GiB of the GPU's free memory in another process, as a smaller card would leave; return
    that process's pid.

    A separate process, not a tensor here: this process's own counters (what the token budget and
    gradient checkpointing size themselves by) then see only the smaller card.
    """
    code = (
        "import time, torch; free, _ = torch.cuda.mem_get_info(); "
        f"x = torch.empty(free - int({gib} * 2**30), dtype=torch.uint8, device='cuda'); "
        "print('held', flush=True); time.sleep(86400)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    atexit.register(holder.kill)
    if holder.stdout.readline().strip() != "held":
        raise SystemExit(f"could not leave {gib} GiB free on the GPU")
    return holder.pid


def prepare_tasks(tasks: list[str], workdir: Path, data_dir: Path = BENCH_DATA) -> Path:
    """Each task's data file prepared from ``data_dir`` (the shared layout) into ``workdir`` as the pipeline's
    prepare_data rule does, and a local task YAML for it; return the folder of YAMLs (lm-eval's include path)."""
    from ll_hallucination_pipeline.inference.evaluate import task_yaml
    from tests.helpers import prepare_task_data

    tasks_dir = workdir / "tasks"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    for task, data_file in prepare_task_data(tasks, data_dir, workdir / "data").items():
        (tasks_dir / f"{task}.yaml").write_text(task_yaml(task, data_file))
    return tasks_dir


def runbook_lm_eval(
    model: Path,
    task: str,
    tasks_dir: Path,
    out: Path,
    *,
    limit: str | None = None,
    batch: str = "auto",
    model_args: str = "",
    extra: tuple[str, ...] = (),
) -> dict:
    """The runbook's evaluation: ``python -m lm_eval --model hf`` on ``model`` (an NF4 copy; ``model_args`` added
    to its own), batch ``batch`` at most 4, 0-shot, per-item samples, timed from process start to results; the
    record of the run."""
    args = f"pretrained={model},dtype=bfloat16{model_args}"
    cmd = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", args]
    cmd += ["--include_path", str(tasks_dir), "--tasks", task, "--num_fewshot", "0"]
    cmd += ["--batch_size", batch, "--max_batch_size", "4", "--seed", "0,0,0,0"]
    cmd += ["--output_path", str(out), "--log_samples", *extra, *(["--limit", limit] if limit else [])]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return {
        "model": model.name,
        "task": task,
        "batch": batch,
        "limit": limit,
        "rc": done.returncode,
        "seconds": elapsed(start),
        "tail": done.stderr[-600:] if done.returncode else "",
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""
