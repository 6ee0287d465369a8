"""Snakemake adapter: train one (recipe, training seed) QLoRA adapter."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config, gpus=snakemake.resources.gpu):  # noqa: F821
    from ll_hallucination_pipeline.models import QuantizationSettings, recorded_weights_sha256
    from ll_hallucination_pipeline.training import train_adapter

    sm = snakemake  # noqa: F821
    manifest = train_adapter(
        sm.input.recipe,
        int(sm.wildcards.train_seed),
        model_dir=sm.input.model,
        data_file=sm.input.data,
        out_dir=sm.output.adapter,
        work_dir=sm.params.work_dir,
        quantization=QuantizationSettings(**sm.params.quantization),
        model_sha256=recorded_weights_sha256(sm.input.model, sm.input.model_hash),
        heldout_file=sm.input.heldout[0] if sm.input.heldout else None,
        curve_points=sm.params.curve_points,
    )
    print(manifest)
