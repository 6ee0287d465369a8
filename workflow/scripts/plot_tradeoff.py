"""Snakemake adapter: the trade-off scatter (PNG and PDF)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import plot

    plot(snakemake.input[0], snakemake.output.png, snakemake.output.pdf)  # noqa: F821
