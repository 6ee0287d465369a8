"""Snakemake adapter: the items QLoRA broke and fixed."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_qualitative

    sm = snakemake  # noqa: F821
    write_qualitative(sm.input.baseline, sm.input.post, sm.output.broken, sm.output.fixed)
