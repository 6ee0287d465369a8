"""Snakemake adapter: the base model's knowledge categories of one question set (SliCK)."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.models import recorded_weights_sha256
    from ll_hallucination_pipeline.workflow import write_knowledge_probe

    sm = snakemake  # noqa: F821
    write_knowledge_probe(
        sm.input.model,
        recorded_weights_sha256(sm.input.model, sm.input.model_hash),
        (sm.input.questions, sm.input.exemplars),
        (sm.output.per_item, sm.output.counts),
        kind=sm.params.kind,
        settings=sm.params.settings,
        quantization=sm.params.quantization,
        cache_dir=sm.params.cache_dir,
        token_budget=sm.params.token_budget,
    )
