"""Snakemake adapter: the trade-off scatter (PNG and PDF)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import plot

    sm = snakemake  # noqa: F821
    plot(sm.input[0], sm.output.png, sm.output.pdf, sm.params.stats)
