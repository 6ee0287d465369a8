# Evaluation: the runs of each model, the settings that change their numbers, the judge's inputs.
from ll_hallucination_pipeline.inference import PROBE_SETS
from ll_hallucination_pipeline.models import check_judge_dir


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


def get_probe_items(wildcards):
    """The items the knowledge probe categorizes: the set's prepared data file."""
    return f"data/{PROBE_SETS[wildcards.probe_set].data}.jsonl"


def get_pool_data_sets(wildcards):
    """The prepared data sets a question pool is made of, in order."""
    return [f"data/{name}.jsonl" for name in QUESTION_POOLS[wildcards.pool]]


def get_probe_exemplars(wildcards):
    """The split set aside for the probe's few-shot exemplars."""
    return f"data/{PROBE_SETS[wildcards.probe_set].exemplars}.jsonl"
