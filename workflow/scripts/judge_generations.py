"""Snakemake adapter: the judge's verdicts on each model's TruthfulQA answers."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.workflow import write_judgements

    sm = snakemake  # noqa: F821
    write_judgements(sm.params.runs, sm.params.judges, sm.params.quantization, sm.params.cache_dir, sm.output[0])
