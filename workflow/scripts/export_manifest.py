"""Snakemake adapter: the provenance manifest."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_manifest

    sm = snakemake  # noqa: F821
    write_manifest(dict(zip(sm.params.provenance, sm.input.provenance, strict=True)), sm.input.documents, sm.output[0])
