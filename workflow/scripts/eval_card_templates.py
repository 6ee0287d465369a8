"""Snakemake adapter: the eval-card templates (never the hand-written cards)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_eval_card_templates

    sm = snakemake  # noqa: F821
    write_eval_card_templates(sm.params.tasks, sm.output.pre, sm.output.post)
