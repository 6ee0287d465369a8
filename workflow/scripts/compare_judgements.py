"""Snakemake adapter: True % and Info % per model, and each adapter's paired tests against the base."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_judge_tables

    sm = snakemake  # noqa: F821
    write_judge_tables(sm.input[0], sm.output.summary, sm.output.tests, sm.params.stats)
