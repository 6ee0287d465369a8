# The config checked before any job, and the settings every rule reads.
from pathlib import Path

from snakemake.utils import validate

from ll_hallucination_pipeline.models import (
    quantization_from_config,
    resolve_model_path,
)
from ll_hallucination_pipeline.tasks import get_task, task_data_file
from ll_hallucination_pipeline.utils import PipelineInputError, torch_job_threads
from ll_hallucination_pipeline.workflow import (
    SCHEMA_PATH,
    check_config,
    check_config_files,
)


def stop_on_bad_input(call, *args):
    """``call(*args)``; bad input stops the run with its one line (file, key or record, fix), no traceback."""
    try:
        return call(*args)
    except PipelineInputError as error:
        raise SystemExit(f"PipelineInputError: {error}") from None


# One readable line for a bad config (key, value, fix), then Snakemake's own check.
stop_on_bad_input(check_config_files, workflow.configfiles)
stop_on_bad_input(check_config, config)
validate(config, str(SCHEMA_PATH))

# Threads of each torch job (see torch_job_threads); `--set-threads RULE=N` overrides one rule.
TORCH_THREADS = torch_job_threads()

EMBEDDED_MODEL_DIR = "models/smollm2-135m-instruct"
# The base model's weights hash, computed once (see models/weights_hash.py) and read by every later job.
MODEL_WEIGHTS_RECORD = "models/base_model.weights_sha256.json"
USER_MODEL_DIR = stop_on_bad_input(resolve_model_path, config["model"]["path"])
MODEL_LABEL = config["model"]["label"] or (
    USER_MODEL_DIR.name if USER_MODEL_DIR else Path(EMBEDDED_MODEL_DIR).name
)
QUANTIZATION = quantization_from_config(config["quantization"]).as_dict()
EVAL = config["eval"]
TASKS = EVAL["tasks"]
SEEDS = EVAL["seeds"]
BASELINE_RUN = "evals/baseline/{task}_seed{seed}_full"
DRAFT_RUN = "evals/drafts/baseline/{task}_seed{seed}_limit{limit}"
POST_RUN = "evals/postqlora/{adapter}/{task}_seed{seed}_full"
POST_DRAFT_RUN = "evals/drafts/postqlora/{adapter}/{task}_seed{seed}_limit{limit}"
# Base precisions beyond the study's own (nf4), evaluated on the first eval seed: the unquantized base (bf16) with
# each adapter unmerged, and each adapter merged into it (merged, whose base is bf16's).
EXTRA_PRECISIONS = [p for p in EVAL["precisions"] if p != "nf4"]
PRECISION_BASELINE_RUN = "evals/precision/{precision}/baseline/{task}_seed{seed}_full"
PRECISION_POST_RUN = (
    "evals/precision/{precision}/postqlora/{adapter}/{task}_seed{seed}_full"
)
# The report's front page (Snakefile `report:`): the study's headline, written once there are adapters.
FRONT_PAGE = "docs/report_front_page.rst"
# The generated documents that docs/manifest.json lists beside the hashes of what they were made from.
EXPORTED_DOCUMENTS = [
    "docs/qlora_training_recipe.md",
    "docs/qlora_training_recipe.csv",
    "docs/experiment_matrix.md",
    "docs/delta_summary.csv",
    "docs/qualitative_pre.md",
    "docs/qualitative_post.md",
]
TASK_DATA = [
    task_data_file(task) for task in TASKS
]  # in TASKS' order; tasks may share a file
# The YAMLs of the user's own tasks in eval.tasks (eval.task_dirs): an edited one makes their evaluations stale.
OWN_TASK_YAMLS = {
    task: get_task(task).lm_eval_yaml for task in TASKS if get_task(task).data_file
}


def get_model_dir(wildcards):
    """The base checkpoint: $MODEL_PATH / model.path, else the converted embedded model."""
    return str(USER_MODEL_DIR) if USER_MODEL_DIR else EMBEDDED_MODEL_DIR
