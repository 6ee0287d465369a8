"""Snakemake adapter: a question pool from its data sets, and the items set aside for the probe's exemplars."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_question_pool

    sm = snakemake  # noqa: F821
    write_question_pool(list(sm.input), (sm.output.pool, sm.output.exemplars))
