"""Snakemake adapter: the experiment matrix."""

from ll_hallucination_pipeline.snakemake_glue import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.pipeline_steps import write_experiment_matrix

    sm = snakemake  # noqa: F821
    write_experiment_matrix(sm.input.summaries, sm.input.intervals, sm.output[0])
