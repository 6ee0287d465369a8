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


rule prepare_sft_data:
    input:
        get_sft_source,
    output:
        data="data/{sft}.jsonl",
        manifest="data/{sft}.manifest.json",
    log:
        "logs/prepare_sft_data/{sft}.log",
    benchmark:
        "benchmarks/prepare_sft_data/{sft}.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        hub=lambda wildcards: SFT_SOURCES[wildcards.sft].hub or None,
        split=lambda wildcards: SFT_SOURCES[wildcards.sft].split,
        readers=get_sft_readers,
    script:
        "../workflow/scripts/prepare_sft_data.py"
