rule convert_model:
    output:
        model_dir=directory(EMBEDDED_MODEL_DIR),
    log:
        "logs/convert_model.log",
    benchmark:
        "benchmarks/convert_model.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/convert_model.py"


rule hash_base_model:
    input:
        model=get_model_dir,
    output:
        MODEL_WEIGHTS_RECORD,
    log:
        "logs/hash_base_model.log",
    benchmark:
        "benchmarks/hash_base_model.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/hash_base_model.py"
