rule judge_generations:
    input:
        runs=get_judged_runs,
        judges=list(dict.fromkeys(JUDGES.values())),
    output:
        "evals/judge/judgements.csv",
    log:
        "logs/judge_generations.log",
    benchmark:
        "benchmarks/judge_generations.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=1,
    params:
        runs=judged_runs(),
        judges=JUDGES,
        quantization=QUANTIZATION,
        cache_dir=EVAL["cache_dir"],
    script:
        "../workflow/scripts/judge_generations.py"


rule compare_judgements:
    input:
        "evals/judge/judgements.csv",
    output:
        summary="evals/judge/summary.csv",
        tests="evals/judge/paired_tests.csv",
    log:
        "logs/compare_judgements.log",
    benchmark:
        "benchmarks/compare_judgements.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        stats=config["stats"],
    script:
        "../workflow/scripts/compare_judgements.py"
