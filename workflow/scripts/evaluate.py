"""Snakemake adapter: evaluate one task for every seed with lm-eval (one model load), base model or adapter."""

from pathlib import Path

from ll_hallucination_pipeline.snakemake_glue import logged

with logged(snakemake.log[0], gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.evaluate import EvalRequest, evaluate_jobs
    from ll_hallucination_pipeline.model import QuantizationSettings
    from ll_hallucination_pipeline.weights_hash import recorded_weights_sha256

    sm = snakemake  # noqa: F821
    settings = sm.params.settings
    requests = [
        EvalRequest(
            task=sm.wildcards.task,
            seed=seed,
            data_file=Path(sm.input.data),
            out_dir=Path(results).parent,
            limit=sm.params.limit,
            draft=sm.params.limit is not None,
            num_fewshot=settings["num_fewshot"],
        )
        for seed, results in zip(sm.params.seeds, sm.output.results, strict=True)
    ]
    evaluate_jobs(
        requests,
        model_dir=Path(sm.input.model),
        model_label=settings["model_label"],
        quantization=QuantizationSettings(**settings["quantization"]),
        cache_dir=Path(sm.params.cache_dir),
        token_budget=sm.params.token_budget,
        adapter_dir=Path(sm.input.adapter) if "adapter" in sm.input.keys() else None,  # noqa: SIM118 (Namedlist)
        model_sha256=recorded_weights_sha256(sm.input.model, sm.input.model_hash),
    )
