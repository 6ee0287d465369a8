"""Snakemake adapter: the delta summary the trade-off figure reads."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_delta_summary

    sm = snakemake  # noqa: F821
    write_delta_summary(sm.input[0], sm.output[0])
