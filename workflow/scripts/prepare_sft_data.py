"""Snakemake adapter: a recipe's own fine-tuning file (or hub data set) as JSON Lines, with its sha256."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.training import DataSection, prepare_sft_data

    sm = snakemake  # noqa: F821
    out = sm.output
    file = sm.input[0] if sm.input else None
    readers = [DataSection(**data) for data in sm.params.readers]
    print(
        prepare_sft_data(out.data, out.manifest, file=file, hub=sm.params.hub, split=sm.params.split, readers=readers)
    )
