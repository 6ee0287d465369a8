# The study's models on other base precisions (eval.precisions beyond nf4), on the first eval seed, and the
# comparison of each precision with the study's own.


use rule evaluate_baseline as evaluate_baseline_precision with:
    output:
        results=first_seed_runs(PRECISION_BASELINE_RUN, "results.json"),
        samples=first_seed_runs(PRECISION_BASELINE_RUN, "samples_{task}.jsonl"),
        scoring=first_seed_runs(PRECISION_BASELINE_RUN, "scoring.json"),
    log:
        "logs/evaluate_baseline_precision/{precision}.log",
    benchmark:
        "benchmarks/evaluate_baseline_precision/{precision}.tsv"
    wildcard_constraints:
        precision="bf16",
    params:
        settings=get_precision_eval_params,
        tasks=TASKS,
        seeds=SEEDS[:1],
        limit=get_final_limit,
        cache_dir=EVAL["cache_dir"],
        token_budget=EVAL["token_budget"],


use rule evaluate_postqlora as evaluate_postqlora_precision with:
    output:
        results=first_seed_runs(PRECISION_POST_RUN, "results.json"),
        samples=first_seed_runs(PRECISION_POST_RUN, "samples_{task}.jsonl"),
        scoring=first_seed_runs(PRECISION_POST_RUN, "scoring.json"),
    log:
        "logs/evaluate_postqlora_precision/{precision}/{adapter}.log",
    benchmark:
        "benchmarks/evaluate_postqlora_precision/{precision}/{adapter}.tsv"
    params:
        settings=get_precision_eval_params,
        tasks=TASKS,
        seeds=SEEDS[:1],
        limit=get_final_limit,
        cache_dir=EVAL["cache_dir"],
        token_budget=EVAL["token_budget"],


rule compare_precisions:
    input:
        baseline=get_baseline_runs,
        post=get_postqlora_runs,
        precision=get_precision_runs,
    output:
        table=report(
            "evals/compare/precision.csv",
            caption="../report/precision.rst",
            category="Comparisons",
        ),
        png=report(
            "docs/figures/precision.png",
            caption="../report/precision.rst",
            category="Figures",
        ),
        pdf="docs/figures/precision.pdf",
    log:
        "logs/compare_precisions.log",
    benchmark:
        "benchmarks/compare_precisions.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        stats=config["stats"],
    script:
        "../workflow/scripts/compare_precisions.py"
