from pathlib import Path

from snakemake.utils import validate

from ll_hallucination_pipeline.config import SCHEMA_PATH, check_config
from ll_hallucination_pipeline.data import local_source, task_spec
from ll_hallucination_pipeline.errors import PipelineInputError
from ll_hallucination_pipeline.model import (
    quantization_from_config,
    resolve_model_path,
)

# One readable line for a bad config (key, value, fix), then Snakemake's own check.
check_config(config)
validate(config, str(SCHEMA_PATH))

EMBEDDED_MODEL_DIR = "models/smollm2-135m-instruct"
USER_MODEL_DIR = resolve_model_path(config["model"]["path"])
MODEL_LABEL = config["model"]["label"] or (
    USER_MODEL_DIR.name if USER_MODEL_DIR else Path(EMBEDDED_MODEL_DIR).name
)
QUANTIZATION = quantization_from_config(config["quantization"]).as_dict()
EVAL = config["eval"]
TASKS = EVAL["tasks"]
SEEDS = EVAL["seeds"]
BASELINE_RUN = "evals/baseline/{task}_seed{seed}_full"
DRAFT_RUN = "evals/drafts/baseline/{task}_seed{seed}_limit{limit}"


wildcard_constraints:
    task="|".join(TASKS),
    seed=r"\d+",
    limit=r"\d+",


def get_model_dir(wildcards):
    """The base checkpoint: $MODEL_PATH / model.path, else the converted embedded model."""
    return str(USER_MODEL_DIR) if USER_MODEL_DIR else EMBEDDED_MODEL_DIR


def data_source(task):
    """Local file the task's data is copied from, or None to download it from the hub."""
    source, local_dir = config["data"]["source"], config["data"]["local_dir"]
    if source == "hub":
        return None
    if source == "local" or (Path(local_dir) / task_spec(task).local_file).is_file():
        return local_source(task, local_dir)
    return None


def get_data_source(wildcards):
    source = data_source(wildcards.task)
    return [str(source)] if source else []


def get_final_limit(wildcards):
    """Final results never take a limit: a configured one is an error, not a silent draft."""
    if EVAL["limit"] is not None:
        raise PipelineInputError(
            f"eval.limit={EVAL['limit']} is set but a final-results target was requested; "
            f"unset eval.limit, or request the draft {DRAFT_RUN.format(task=wildcards.task, seed=wildcards.seed, limit=EVAL['limit'])}/results.json"
        )
    return None


def eval_params():
    """Settings that change evaluation numbers (so Snakemake re-runs exactly when they change)."""
    return {
        "model_label": MODEL_LABEL,
        "quantization": QUANTIZATION,
        "num_fewshot": EVAL["num_fewshot"],
    }


def get_baseline_runs(wildcards):
    return expand(f"{BASELINE_RUN}/results.json", task=TASKS, seed=SEEDS) + expand(
        f"{BASELINE_RUN}/samples_{{task}}.jsonl", task=TASKS, seed=SEEDS
    )


def get_all_targets(wildcards):
    if EVAL["limit"] is not None:
        return expand(
            f"{DRAFT_RUN}/results.json", task=TASKS, seed=SEEDS, limit=EVAL["limit"]
        )
    return [
        "docs/nvidia-smi.txt",
        "docs/torch_env.txt",
        "docs/smoke_test.json",
        "evals/baseline/summary.csv",
        "evals/baseline/bootstrap_ci.csv",
    ]
