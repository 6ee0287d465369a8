"""Snakemake adapter: summary CSV and bootstrap CIs of final evaluation runs."""

from pathlib import Path

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.reports import write_summaries
    from ll_hallucination_pipeline.stats import StatsSettings

    sm = snakemake  # noqa: F821
    run_dirs = sorted({Path(f).parent for f in sm.input})
    write_summaries(run_dirs, sm.output.summary, sm.output.intervals, StatsSettings.from_config(sm.params.stats))
