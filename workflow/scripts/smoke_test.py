"""Snakemake adapter: load the base model quantized and generate a few tokens."""

from ll_hallucination_pipeline.snakemake_glue import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.quantization import QuantizationSettings
    from ll_hallucination_pipeline.smoke import run_smoke_test

    settings = QuantizationSettings(**snakemake.params.quantization)  # noqa: F821
    print(run_smoke_test(snakemake.input.model, settings, snakemake.output[0]))  # noqa: F821
