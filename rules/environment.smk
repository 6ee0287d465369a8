rule snapshot_environment:
    output:
        nvidia_smi="docs/nvidia-smi.txt",
        torch_env="docs/torch_env.txt",
    log:
        "logs/snapshot_environment.log",
    script:
        "../workflow/scripts/snapshot_environment.py"


rule smoke_test:
    input:
        model=get_model_dir,
    output:
        "docs/smoke_test.json",
    params:
        quantization=QUANTIZATION,
    log:
        "logs/smoke_test.log",
    resources:
        gpu=1,
    script:
        "../workflow/scripts/smoke_test.py"
