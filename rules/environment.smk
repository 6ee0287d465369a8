rule snapshot_environment:
    output:
        nvidia_smi="docs/nvidia-smi.txt",
        torch_env="docs/torch_env.txt",
    log:
        "logs/snapshot_environment.log",
    benchmark:
        "benchmarks/snapshot_environment.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=1,  # the snapshot describes the machine the GPU jobs run on
    script:
        "../workflow/scripts/snapshot_environment.py"


rule smoke_test:
    input:
        model=get_model_dir,
    output:
        "docs/smoke_test.json",
    log:
        "logs/smoke_test.log",
    benchmark:
        "benchmarks/smoke_test.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=1,
    params:
        quantization=QUANTIZATION,
    script:
        "../workflow/scripts/smoke_test.py"
