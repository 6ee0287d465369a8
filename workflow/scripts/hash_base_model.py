"""Snakemake adapter: hash the base model's weights once, for every later job to read."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.models import write_weights_record

    print(write_weights_record(snakemake.input.model, snakemake.output[0]))  # noqa: F821
