rule train_qlora:
    input:
        model=get_model_dir,
        model_hash=MODEL_WEIGHTS_RECORD,
        data=get_recipe_data,
        recipe=get_recipe_file,
        heldout=get_heldout_data,
    output:
        adapter=directory("adapters/{recipe}_seed{train_seed}"),
    log:
        "logs/train_qlora/{recipe}_seed{train_seed}.log",
    benchmark:
        "benchmarks/train_qlora/{recipe}_seed{train_seed}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=1,
    params:
        quantization=QUANTIZATION,
        work_dir=lambda wildcards: f"adapters/.work/{wildcards.recipe}_seed{wildcards.train_seed}",
        curve_points=config["knowledge"]["curve_points"],
    script:
        "../workflow/scripts/train.py"


use rule evaluate_baseline as evaluate_postqlora with:
    input:
        model=get_model_dir,
        model_hash=MODEL_WEIGHTS_RECORD,
        data=TASK_DATA,
        task_definitions=list(OWN_TASK_YAMLS.values()),
        adapter=get_adapter_dir,
    output:
        results=every_run(POST_RUN, "results.json"),
        samples=every_run(POST_RUN, "samples_{task}.jsonl"),
        scoring=every_run(POST_RUN, "scoring.json"),
    log:
        "logs/evaluate_postqlora/{adapter}.log",
    benchmark:
        "benchmarks/evaluate_postqlora/{adapter}.tsv"


use rule evaluate_baseline_draft as evaluate_postqlora_draft with:
    input:
        model=get_model_dir,
        model_hash=MODEL_WEIGHTS_RECORD,
        data=TASK_DATA,
        task_definitions=list(OWN_TASK_YAMLS.values()),
        adapter=get_adapter_dir,
    output:
        results=every_run(POST_DRAFT_RUN, "results.json"),
        samples=every_run(POST_DRAFT_RUN, "samples_{task}.jsonl"),
        scoring=every_run(POST_DRAFT_RUN, "scoring.json"),
    log:
        "logs/evaluate_postqlora_draft/{adapter}_limit{limit}.log",
    benchmark:
        "benchmarks/evaluate_postqlora_draft/{adapter}_limit{limit}.tsv"


use rule summarize_baseline as summarize_postqlora with:
    input:
        get_postqlora_runs,
    output:
        summary="evals/postqlora/summary.csv",
        intervals="evals/postqlora/bootstrap_ci.csv",
    log:
        "logs/summarize_postqlora.log",
    benchmark:
        "benchmarks/summarize_postqlora.tsv"
