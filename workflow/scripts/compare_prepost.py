"""Snakemake adapter: deltas and paired tests between baseline and post-QLoRA runs."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_comparison_tables

    sm = snakemake  # noqa: F821
    write_comparison_tables(
        sm.input.baseline,
        sm.input.post,
        sm.output.deltas,
        sm.output.tests,
        sm.params.stats,
        categories=dict(zip(sm.params.categorized_tasks, sm.input.categories, strict=True)),
    )
