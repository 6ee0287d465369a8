"""Snakemake adapter: regenerate the documents in docs/ (eval cards are created once, never overwritten)."""

from ll_hallucination_pipeline.snakemake_glue import logged

with logged(snakemake.log[0]):  # noqa: F821
    from ll_hallucination_pipeline.pipeline_steps import export_docs

    sm = snakemake  # noqa: F821
    export_docs(
        baseline_files=sm.input.baseline,
        post_files=sm.input.post,
        summaries={
            "baseline": sm.input.summary,
            "baseline_ci": sm.input.summary_ci,
            "post": sm.input.post_summary,
            "post_ci": sm.input.post_summary_ci,
        },
        tests_csv=sm.input.tests,
        recipe_files=sm.input.recipes,
        provenance=dict(zip(sm.params.provenance, sm.input.provenance, strict=True)),
        outputs=dict(sm.output.items()),
    )
