"""Snakemake adapter: the study's numbers on each other base precision against its own (NF4)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_precision_table

    sm = snakemake  # noqa: F821
    inputs, out = sm.input, sm.output
    write_precision_table(inputs.baseline, inputs.post, inputs.precision, out.table, out.png, out.pdf, sm.params.stats)
