rule probe_knowledge:
    input:
        model=get_model_dir,
        model_hash=MODEL_WEIGHTS_RECORD,
        questions=get_probe_items,
        exemplars=get_probe_exemplars,
    output:
        per_item="evals/knowledge/{probe_set}/items.csv",
        counts="evals/knowledge/{probe_set}/counts.csv",
    log:
        "logs/probe_knowledge/{probe_set}.log",
    benchmark:
        "benchmarks/probe_knowledge/{probe_set}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=1,
    params:
        settings=config["knowledge"]["probe"],
        quantization=QUANTIZATION,
        cache_dir=EVAL["cache_dir"],
        token_budget=EVAL["token_budget"],
    script:
        "../workflow/scripts/probe_knowledge.py"
