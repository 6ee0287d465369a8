"""Snakemake adapter: evaluate every task and seed with lm-eval on one model load, base model or adapter."""

from pathlib import Path

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.inference import EvalRequest, evaluate_jobs
    from ll_hallucination_pipeline.models import QuantizationSettings, recorded_weights_sha256

    sm = snakemake  # noqa: F821
    settings = sm.params.settings
    data_files = dict(zip(sm.params.tasks, sm.input.data, strict=True))
    runs = [(task, seed) for task in sm.params.tasks for seed in sm.params.seeds]  # the outputs' order
    requests = [
        EvalRequest(
            task=task,
            seed=seed,
            data_file=Path(data_files[task]),
            out_dir=Path(results).parent,
            limit=sm.params.limit,
            draft=sm.params.limit is not None,
            num_fewshot=settings["num_fewshot"],
            max_gen_toks=settings["max_gen_toks"],
        )
        for (task, seed), results in zip(runs, sm.output.results, strict=True)
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
        merge_adapter=settings.get("merge_adapter", False),
    )
