from dataclasses import asdict
from pathlib import Path

from snakemake.utils import validate

from ll_hallucination_pipeline.workflow import (
    SCHEMA_PATH,
    check_config,
    check_config_files,
)
from ll_hallucination_pipeline.tasks import (
    check_records,
    local_source,
    read_jsonl,
    will_be_prepared,
)
from ll_hallucination_pipeline.utils import torch_job_threads
from ll_hallucination_pipeline.utils import PipelineInputError
from ll_hallucination_pipeline.models import check_judge_dir, resolve_model_path
from ll_hallucination_pipeline.models import quantization_from_config
from ll_hallucination_pipeline.training import load_recipe
from ll_hallucination_pipeline.training import (
    checked_records,
    read_records,
    sft_data_file,
)
from ll_hallucination_pipeline.tasks import (
    DATA_SETS,
    get_data_set,
    get_task,
    task_data_file,
)
from ll_hallucination_pipeline.models import external_adapter


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

# Recipes are validated here, before any job: a malformed one stops the run with its file and key.
RECIPES = {
    name: stop_on_bad_input(
        load_recipe, Path(config["qlora"]["recipes_dir"]) / f"qlora_{name}.toml"
    )
    for name in config["qlora"]["recipes"]
}
# Fine-tuning data each recipe reads: a registered data set, or a user's file or hub data set prepared into
# data/user_<stem>.jsonl / data/hub_<id>.jsonl (its own DAG target, so a changed file re-trains its adapters).
RECIPE_DATA = {name: sft_data_file(recipe.data) for name, recipe in RECIPES.items()}


def sft_sources():
    """Prepared file stem -> the [data] section naming a user's file or hub data set behind it."""
    sources = {}
    for name, recipe in RECIPES.items():
        if recipe.data.file or recipe.data.hub:
            first = sources.setdefault(Path(RECIPE_DATA[name]).stem, recipe.data)
            if (first.file, first.hub, first.split) != (
                recipe.data.file,
                recipe.data.hub,
                recipe.data.split,
            ):
                raise PipelineInputError(
                    f"recipes name different data that would be prepared as one file ({RECIPE_DATA[name]}); "
                    "give the files different names"
                )
    return sources


SFT_SOURCES = stop_on_bad_input(sft_sources)
TRAINED_ADAPTERS = {
    f"{name}_seed{seed}": name
    for name, recipe in RECIPES.items()
    for seed in recipe.training.seeds
}
# $LORA_ADAPTER_PATH: an adapter trained elsewhere, evaluated as "external-<dir name>".
EXTERNAL_ADAPTER = stop_on_bad_input(external_adapter)
ADAPTERS = list(TRAINED_ADAPTERS) + (
    [EXTERNAL_ADAPTER.name] if EXTERNAL_ADAPTER else []
)


def judges():
    """Verdict -> judge checkpoint (judge.model, and judge.info_model or the same), checked; empty without a judge."""
    section = config["judge"]
    if not section["model"]:
        if section["info_model"]:
            raise PipelineInputError(
                "config.yaml: judge.info_model is set but judge.model is not; set judge.model (the truth judge)"
            )
        return {}
    if "truthfulqa_gen" not in TASKS:
        raise PipelineInputError(
            "config.yaml: judge.model is set but eval.tasks has no truthfulqa_gen; add truthfulqa_gen, "
            "whose answers the judge reads"
        )
    truth = str(check_judge_dir(section["model"], "judge.model"))
    info = section["info_model"]
    return {
        "judge_true": truth,
        "judge_info": str(check_judge_dir(info, "judge.info_model")) if info else truth,
    }


JUDGES = stop_on_bad_input(judges)


wildcard_constraints:
    task="|".join(TASKS),
    seed=r"\d+",
    limit=r"\d+",
    dataset="|".join(DATA_SETS),
    recipe="|".join(RECIPES) or "^$",
    sft="|".join(SFT_SOURCES) or "^$",
    adapter="|".join(ADAPTERS) or "^$",
    precision="bf16|merged",


def get_model_dir(wildcards):
    """The base checkpoint: $MODEL_PATH / model.path, else the converted embedded model."""
    return str(USER_MODEL_DIR) if USER_MODEL_DIR else EMBEDDED_MODEL_DIR


def data_source(dataset):
    """Local file a dataset is copied from, or None to download it from the hub."""
    source, local_dir = config["data"]["source"], config["data"]["local_dir"]
    if source == "hub":
        return None
    if (
        source == "local"
        or (Path(local_dir) / get_data_set(dataset).local_file).is_file()
    ):
        return local_source(dataset, local_dir)
    return None


def check_sources_to_prepare():
    """Check, record by record, the local sources the DAG is about to (re)prepare: a bad file stops the run here,
    before any job, so nothing already prepared or computed is cleared for a job that would fail.
    """
    for name in sorted(
        {
            Path(f).stem
            for f in [*TASK_DATA, *RECIPE_DATA.values()]
            if Path(f).parent == Path("data")
        }
        & set(DATA_SETS)
    ):
        source = data_source(name)
        if source and will_be_prepared(source, f"data/{name}.jsonl"):
            check_records(name, read_jsonl(source), str(source))
    for name, data in SFT_SOURCES.items():
        if data.file and will_be_prepared(data.file, f"data/{name}.jsonl"):
            for recipe in RECIPES.values():
                if RECIPE_DATA[recipe.name] == f"data/{name}.jsonl":
                    checked_records(recipe.data, read_records(data.file), data.file)


stop_on_bad_input(check_sources_to_prepare)


def get_data_source(wildcards):
    source = data_source(wildcards.dataset)
    return [str(source)] if source else []


def every_run(run, name):
    """One output per configured task and seed (task-major): a model's evaluations share one job, one model load."""
    return expand(f"{run}/{name}", task=TASKS, seed=SEEDS, allow_missing=True)


def get_final_limit(wildcards):
    """Final results never take a limit: a configured one is an error, not a silent draft."""
    if EVAL["limit"] is not None:
        raise SystemExit(  # one line, no traceback (see stop_on_bad_input)
            "PipelineInputError: "
            f"eval.limit={EVAL['limit']} is set but a final-results target was requested; "
            f"unset eval.limit, or request the draft {DRAFT_RUN.format(task=TASKS[0], seed=SEEDS[0], limit=EVAL['limit'])}/results.json"
        )
    return None


def eval_params(precision="nf4"):
    """Settings that change evaluation numbers (so Snakemake re-runs exactly when they change); beyond nf4 the
    base is unquantized, and merged merges the adapter into it."""
    params = {
        "model_label": MODEL_LABEL,
        "quantization": (
            QUANTIZATION if precision == "nf4" else QUANTIZATION | {"mode": "none"}
        ),
        "num_fewshot": EVAL["num_fewshot"],
        "max_gen_toks": EVAL["max_gen_toks"],
    }
    return params | ({"merge_adapter": True} if precision == "merged" else {})


def get_precision_eval_params(wildcards):
    return eval_params(wildcards.precision)


def first_seed_runs(run, name):
    """One output per configured task on the first eval seed (other precisions' evaluations)."""
    return expand(f"{run}/{name}", task=TASKS, seed=SEEDS[0], allow_missing=True)


def get_precision_runs(wildcards):
    """Every other precision's evaluations: bf16's base, and each precision's adapters."""
    files = ("results.json", "samples_{task}.jsonl")
    runs = [
        f"{PRECISION_BASELINE_RUN}/{name}"
        for name in files
        if "bf16" in EXTRA_PRECISIONS
    ]
    bases = [
        expand(run, precision="bf16", task=task, seed=SEEDS[0])
        for run in runs
        for task in TASKS
    ]
    posts = [
        expand(
            f"{PRECISION_POST_RUN}/{name}",
            precision=precision,
            adapter=adapter,
            task=task,
            seed=SEEDS[0],
        )
        for name in files
        for precision in EXTRA_PRECISIONS
        for adapter in ADAPTERS
        for task in TASKS
    ]
    return [path for group in bases + posts for path in group]


def get_baseline_runs(wildcards):
    return expand(f"{BASELINE_RUN}/results.json", task=TASKS, seed=SEEDS) + expand(
        f"{BASELINE_RUN}/samples_{{task}}.jsonl", task=TASKS, seed=SEEDS
    )


def get_recipe_file(wildcards):
    return str(Path(config["qlora"]["recipes_dir"]) / f"qlora_{wildcards.recipe}.toml")


def get_recipe_data(wildcards):
    return RECIPE_DATA[wildcards.recipe]


def get_sft_readers(wildcards):
    """The [data] sections of the recipes that train on data/<sft>.jsonl (checked when it is prepared)."""
    return [
        asdict(RECIPES[name].data)
        for name, file in RECIPE_DATA.items()
        if file == f"data/{wildcards.sft}.jsonl"
    ]


def get_sft_source(wildcards):
    """The user's own fine-tuning file behind data/<sft>.jsonl (none for a hub data set)."""
    file = SFT_SOURCES[wildcards.sft].file
    return [file] if file else []


def adapter_dir(name):
    """A trained adapter's directory (a DAG target), or the one $LORA_ADAPTER_PATH names."""
    if EXTERNAL_ADAPTER and name == EXTERNAL_ADAPTER.name:
        return str(EXTERNAL_ADAPTER.path)
    return f"adapters/{name}"


def get_adapter_dir(wildcards):
    return adapter_dir(wildcards.adapter)


def get_postqlora_runs(wildcards):
    runs = expand(POST_RUN, adapter=ADAPTERS, task=TASKS, seed=SEEDS)
    return [f"{run}/results.json" for run in runs] + [
        f"{run}/samples_{task}.jsonl"
        for run, task in zip(runs, [t for _ in ADAPTERS for t in TASKS for _ in SEEDS])
    ]


def judged_runs():
    """Model -> the truthfulqa_gen run (first eval seed) whose answers the judge reads: the base, then each adapter."""
    seed = SEEDS[0]
    runs = {"base": BASELINE_RUN.format(task="truthfulqa_gen", seed=seed)}
    runs |= {
        a: POST_RUN.format(adapter=a, task="truthfulqa_gen", seed=seed)
        for a in ADAPTERS
    }
    return runs


def get_judged_runs(wildcards):
    return [
        f"{run}/{name}"
        for run in judged_runs().values()
        for name in ("results.json", "samples_truthfulqa_gen.jsonl")
    ]


def get_recipe_files(wildcards):
    return [
        str(Path(config["qlora"]["recipes_dir"]) / f"qlora_{name}.toml")
        for name in RECIPES
    ]


def provenance_inputs():
    """Name -> path of everything the generated documents depend on (hashed into docs/manifest.json)."""
    items = {"config": "config.yaml", "model": MODEL_WEIGHTS_RECORD}
    items |= {file.removesuffix(".jsonl"): file for file in TASK_DATA}
    items |= {f"task/{task}": yaml for task, yaml in OWN_TASK_YAMLS.items()}
    items |= {file.removesuffix(".jsonl"): file for file in RECIPE_DATA.values()}
    items |= {f"recipe/{name}": f for name, f in zip(RECIPES, get_recipe_files(None))}
    items |= {f"adapter/{a}": adapter_dir(a) for a in ADAPTERS}
    return items


def get_provenance_inputs(wildcards):
    return list(provenance_inputs().values())


def get_provenance_names(wildcards):
    return list(provenance_inputs())


def get_all_targets(wildcards):
    if EVAL["limit"] is not None:
        return expand(
            f"{DRAFT_RUN}/results.json", task=TASKS, seed=SEEDS, limit=EVAL["limit"]
        ) + expand(
            f"{POST_DRAFT_RUN}/results.json",
            adapter=ADAPTERS,
            task=TASKS,
            seed=SEEDS,
            limit=EVAL["limit"],
        )
    # Every per-seed result and adapter is a target of its own too: after an interrupted run, one that is
    # missing is rebuilt even where the summaries made from it still stand.
    targets = [
        "docs/nvidia-smi.txt",
        "docs/torch_env.txt",
        "docs/smoke_test.json",
        "evals/baseline/summary.csv",
        "evals/baseline/bootstrap_ci.csv",
        *get_baseline_runs(wildcards),
        "docs/figures/reliability.png",
    ]
    if ADAPTERS:
        targets += [
            "evals/postqlora/summary.csv",
            "evals/compare/deltas.csv",
            "docs/manifest.json",
            "docs/eval_card_pre.template.md",
            "docs/figures/tradeoff_scatter.png",
            FRONT_PAGE,
            *get_postqlora_runs(wildcards),
            *[adapter_dir(name) for name in TRAINED_ADAPTERS],
        ]
        if JUDGES:
            targets += ["evals/judge/summary.csv", "evals/judge/paired_tests.csv"]
        if EXTRA_PRECISIONS:
            targets.append("evals/compare/precision.csv")
    return targets
