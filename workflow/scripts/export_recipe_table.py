"""Snakemake adapter: the recipe table (markdown and CSV)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_recipe_table

    sm = snakemake  # noqa: F821
    write_recipe_table(sm.input, sm.output.markdown, sm.output.csv)
