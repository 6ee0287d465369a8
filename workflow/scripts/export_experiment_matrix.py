"""Snakemake adapter: the experiment matrix."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_experiment_matrix

    sm = snakemake  # noqa: F821
    write_experiment_matrix(sm.input.summaries, sm.input.intervals, sm.output[0])
