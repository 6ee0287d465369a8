"""Snakemake adapter: write one dataset (evaluation split or SFT data) and its sha256 manifest."""

from pathlib import Path

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.tasks import prepare_dataset

    source = Path(snakemake.input[0]) if snakemake.input else None  # noqa: F821
    out = snakemake.output  # noqa: F821
    print(prepare_dataset(snakemake.wildcards.dataset, out.data, out.manifest, source=source))  # noqa: F821
