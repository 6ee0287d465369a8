rule compare_prepost:
    input:
        baseline=get_baseline_runs,
        post=get_postqlora_runs,
    output:
        deltas=report(
            "evals/compare/deltas.csv",
            caption="../report/deltas.rst",
            category="Comparisons",
        ),
        tests=report(
            "evals/compare/paired_tests.csv",
            caption="../report/paired_tests.rst",
            category="Comparisons",
        ),
    log:
        "logs/compare_prepost.log",
    benchmark:
        "benchmarks/compare_prepost.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        stats=config["stats"],
    script:
        "../workflow/scripts/compare.py"


rule export_docs:
    input:
        baseline=get_baseline_runs,
        post=get_postqlora_runs,
        summary="evals/baseline/summary.csv",
        summary_ci="evals/baseline/bootstrap_ci.csv",
        post_summary="evals/postqlora/summary.csv",
        post_summary_ci="evals/postqlora/bootstrap_ci.csv",
        tests="evals/compare/paired_tests.csv",
        recipes=get_recipe_files,
        provenance=get_provenance_inputs,
    output:
        recipe_md="docs/qlora_training_recipe.md",
        recipe_csv=report(
            "docs/qlora_training_recipe.csv",
            caption="../report/recipes.rst",
            category="Tables",
        ),
        matrix_md=report(
            "docs/experiment_matrix_seed0.md",
            caption="../report/matrix.rst",
            category="Tables",
        ),
        delta_summary=report(
            "docs/delta_summary.csv",
            caption="../report/delta_summary.rst",
            category="Tables",
        ),
        qualitative_pre="docs/qualitative_pre.md",
        qualitative_post="docs/qualitative_post.md",
        manifest="docs/manifest.json",
    log:
        "logs/export_docs.log",
    benchmark:
        "benchmarks/export_docs.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        provenance=get_provenance_names,
    script:
        "../workflow/scripts/export_docs.py"


rule plot_tradeoff:
    input:
        "docs/delta_summary.csv",
    output:
        png=report(
            "docs/figures/tradeoff_scatter.png",
            caption="../report/tradeoff.rst",
            category="Figures",
        ),
        pdf="docs/figures/tradeoff_scatter.pdf",
    log:
        "logs/plot_tradeoff.log",
    benchmark:
        "benchmarks/plot_tradeoff.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/plot_tradeoff.py"


rule write_front_page:
    input:
        tests="evals/compare/paired_tests.csv",
        intervals=["evals/baseline/bootstrap_ci.csv", "evals/postqlora/bootstrap_ci.csv"],
    output:
        FRONT_PAGE,
    log:
        "logs/write_front_page.log",
    benchmark:
        "benchmarks/write_front_page.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        model=MODEL_LABEL,
        stats=config["stats"],
    script:
        "../workflow/scripts/write_front_page.py"
