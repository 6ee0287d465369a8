"""Snakemake adapter: the knowledge mixes' learning curves, linear model, Table 2 and figures."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_knowledge_analysis

    sm = snakemake  # noqa: F821
    write_knowledge_analysis(sm.input.tests, sm.params.adapters, dict(sm.output.items()), stats=sm.params.stats)
