"""Snakemake adapter: the report's front page (the study's headline in words)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_front_page

    sm = snakemake  # noqa: F821
    inputs = sm.input
    write_front_page(
        inputs.tests,
        inputs.intervals,
        inputs.precision,
        sm.output[0],
        sm.params.model,
        sm.params.stats,
        knowledge=inputs.knowledge,
        external_adapter=(sm.params.external_adapter, sm.params.model_dir),
    )
