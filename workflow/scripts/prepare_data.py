"""Snakemake adapter: write one task's evaluation split and its sha256 manifest."""

from pathlib import Path

from ll_hallucination_pipeline.snakemake_glue import logged

with logged(snakemake.log[0]):  # noqa: F821
    from ll_hallucination_pipeline.data import prepare_task_data

    source = Path(snakemake.input[0]) if snakemake.input else None  # noqa: F821
    out = snakemake.output  # noqa: F821
    print(prepare_task_data(snakemake.wildcards.task, out.data, out.manifest, source=source))  # noqa: F821
