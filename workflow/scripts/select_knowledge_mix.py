"""Snakemake adapter: a recipe's fine-tuning examples chosen by the base model's knowledge, and the held-out slice."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_knowledge_mix

    sm = snakemake  # noqa: F821
    write_knowledge_mix(
        sm.input.recipe,
        (sm.input.pool, sm.input.categories),
        (sm.output.train, sm.output.heldout),
        heldout_per_category=sm.params.heldout,
    )
