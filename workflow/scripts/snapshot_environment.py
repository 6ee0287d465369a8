"""Snakemake adapter: write docs/nvidia-smi.txt and docs/torch_env.txt."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.utils import write_environment_snapshot

    write_environment_snapshot(snakemake.output.nvidia_smi, snakemake.output.torch_env)  # noqa: F821
