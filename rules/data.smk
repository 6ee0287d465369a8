rule prepare_data:
    input:
        get_data_source,
    output:
        data="data/{task}.jsonl",
        manifest="data/{task}.manifest.json",
    log:
        "logs/prepare_data/{task}.log",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/prepare_data.py"
