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
