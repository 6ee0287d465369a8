"""Snakemake adapter: load the base model quantized and generate a few tokens."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.inference import run_smoke_test
    from ll_hallucination_pipeline.models import QuantizationSettings

    settings = QuantizationSettings(**snakemake.params.quantization)  # noqa: F821
    print(run_smoke_test(snakemake.input.model, settings, snakemake.output[0]))  # noqa: F821
