rule prepare_data:
    input:
        get_data_source,
    output:
        data="data/{dataset}.jsonl",
        manifest="data/{dataset}.manifest.json",
    log:
        "logs/prepare_data/{dataset}.log",
    benchmark:
        "benchmarks/prepare_data/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/prepare_data.py"
