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
        kind=lambda wildcards: PROBE_SETS[wildcards.probe_set].kind,
        settings=config["knowledge"]["probe"],
        quantization=QUANTIZATION,
        cache_dir=EVAL["cache_dir"],
        token_budget=EVAL["token_budget"],
    script:
        "../workflow/scripts/probe_knowledge.py"


rule split_question_pool:
    input:
        get_pool_data_sets,
    output:
        pool="data/{pool}.jsonl",
        exemplars="data/{pool}_exemplars.jsonl",
    log:
        "logs/split_question_pool/{pool}.log",
    benchmark:
        "benchmarks/split_question_pool/{pool}.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/split_question_pool.py"


rule select_knowledge_mix:
    input:
        unpack(get_mix_pool),
        recipe=get_recipe_file,
    output:
        train="data/knowledge/{recipe}/train.jsonl",
        heldout="data/knowledge/{recipe}/heldout.jsonl",
    log:
        "logs/select_knowledge_mix/{recipe}.log",
    benchmark:
        "benchmarks/select_knowledge_mix/{recipe}.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        heldout=config["knowledge"]["heldout"],
    script:
        "../workflow/scripts/select_knowledge_mix.py"


rule analyze_knowledge:
    input:
        tests="evals/compare/paired_tests.csv",
        adapters=get_mix_adapters,
    output:
        curves="evals/knowledge/learning_curves.csv",
        fit="evals/knowledge/gekhman_fit.csv",
        table="evals/knowledge/table2.csv",
        mix_png="docs/figures/knowledge_mix.png",
        mix_pdf="docs/figures/knowledge_mix.pdf",
        curve_png="docs/figures/learning_curves.png",
        curve_pdf="docs/figures/learning_curves.pdf",
    log:
        "logs/analyze_knowledge.log",
    benchmark:
        "benchmarks/analyze_knowledge.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        adapters=lambda wildcards, input: dict(zip(MIX_ADAPTERS, input.adapters)),
        stats=config["stats"],
    script:
        "../workflow/scripts/analyze_knowledge.py"
