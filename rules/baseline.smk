rule evaluate_baseline:
    input:
        model=get_model_dir,
        model_hash=MODEL_WEIGHTS_RECORD,
        data=TASK_DATA,
        task_definitions=list(OWN_TASK_YAMLS.values()),
    output:
        results=every_run(BASELINE_RUN, "results.json"),
        samples=every_run(BASELINE_RUN, "samples_{task}.jsonl"),
        scoring=every_run(BASELINE_RUN, "scoring.json"),
    log:
        "logs/evaluate_baseline.log",
    benchmark:
        "benchmarks/evaluate_baseline.tsv"
    # The baseline before any training: its numbers come first, and nothing waits on an adapter for them.
    priority: 1
    conda:
        "../envs/pipeline.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=1,
    params:
        settings=eval_params(),
        tasks=TASKS,
        seeds=SEEDS,
        limit=get_final_limit,
        cache_dir=EVAL["cache_dir"],
        token_budget=EVAL["token_budget"],
    script:
        "../workflow/scripts/evaluate.py"


use rule evaluate_baseline as evaluate_baseline_draft with:
    output:
        results=every_run(DRAFT_RUN, "results.json"),
        samples=every_run(DRAFT_RUN, "samples_{task}.jsonl"),
        scoring=every_run(DRAFT_RUN, "scoring.json"),
    log:
        "logs/evaluate_baseline_draft/limit{limit}.log",
    benchmark:
        "benchmarks/evaluate_baseline_draft/limit{limit}.tsv"
    params:
        settings=eval_params(),
        tasks=TASKS,
        seeds=SEEDS,
        limit=lambda wildcards: int(wildcards.limit),
        cache_dir=EVAL["cache_dir"],
        token_budget=EVAL["token_budget"],


rule summarize_baseline:
    input:
        get_baseline_runs,
    output:
        summary="evals/baseline/summary.csv",
        intervals="evals/baseline/bootstrap_ci.csv",
    log:
        "logs/summarize_baseline.log",
    benchmark:
        "benchmarks/summarize_baseline.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        stats=config["stats"],
    script:
        "../workflow/scripts/summarize.py"
