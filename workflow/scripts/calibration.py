"""Snakemake adapter: calibration per model and task, reliability bins and the reliability diagram."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_calibration

    sm = snakemake  # noqa: F821
    out = sm.output
    write_calibration(sm.input.baseline, sm.input.post, out.summary, out.bins, out.png, out.pdf)
