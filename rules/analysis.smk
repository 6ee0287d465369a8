rule compare_prepost:
    input:
        baseline=get_baseline_runs,
        post=get_postqlora_runs,
        categories=[f"evals/knowledge/{t}/items.csv" for t in CATEGORIZED_TASKS],
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
        categorized_tasks=CATEGORIZED_TASKS,
    script:
        "../workflow/scripts/compare_prepost.py"


rule export_recipe_table:
    input:
        get_recipe_files,
    output:
        markdown="docs/qlora_training_recipe.md",
        csv=report(
            "docs/qlora_training_recipe.csv",
            caption="../report/recipes.rst",
            category="Tables",
        ),
    log:
        "logs/export_recipe_table.log",
    benchmark:
        "benchmarks/export_recipe_table.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/export_recipe_table.py"


rule export_experiment_matrix:
    input:
        summaries=["evals/baseline/summary.csv", "evals/postqlora/summary.csv"],
        intervals=[
            "evals/baseline/bootstrap_ci.csv",
            "evals/postqlora/bootstrap_ci.csv",
        ],
    output:
        report(
            "docs/experiment_matrix.md",
            caption="../report/matrix.rst",
            category="Tables",
        ),
    log:
        "logs/export_experiment_matrix.log",
    benchmark:
        "benchmarks/export_experiment_matrix.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/export_experiment_matrix.py"


rule export_delta_summary:
    input:
        "evals/compare/paired_tests.csv",
    output:
        report(
            "docs/delta_summary.csv",
            caption="../report/delta_summary.rst",
            category="Tables",
        ),
    log:
        "logs/export_delta_summary.log",
    benchmark:
        "benchmarks/export_delta_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/export_delta_summary.py"


rule export_qualitative:
    input:
        baseline=get_baseline_runs,
        post=get_postqlora_runs,
    output:
        broken="docs/qualitative_pre.md",
        fixed="docs/qualitative_post.md",
    log:
        "logs/export_qualitative.log",
    benchmark:
        "benchmarks/export_qualitative.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/export_qualitative.py"


# Templates only: the hand-written cards (docs/eval_card_pre.md, docs/eval_card_post.md) are no rule's output.
rule eval_card_templates:
    output:
        pre="docs/eval_card_pre.template.md",
        post="docs/eval_card_post.template.md",
    log:
        "logs/eval_card_templates.log",
    benchmark:
        "benchmarks/eval_card_templates.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        tasks=TASKS,
    script:
        "../workflow/scripts/eval_card_templates.py"


rule export_manifest:
    input:
        provenance=get_provenance_inputs,
        documents=EXPORTED_DOCUMENTS,
    output:
        "docs/manifest.json",
    log:
        "logs/export_manifest.log",
    benchmark:
        "benchmarks/export_manifest.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        provenance=get_provenance_names,
    script:
        "../workflow/scripts/export_manifest.py"


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
    params:
        stats=config["stats"],
    script:
        "../workflow/scripts/plot_tradeoff.py"


rule calibration:
    input:
        baseline=get_baseline_runs,
        post=get_postqlora_runs,
    output:
        summary=report(
            "evals/compare/calibration.csv",
            caption="../report/calibration.rst",
            category="Tables",
        ),
        bins="evals/compare/reliability_bins.csv",
        png=report(
            "docs/figures/reliability.png",
            caption="../report/reliability.rst",
            category="Figures",
        ),
        pdf="docs/figures/reliability.pdf",
    log:
        "logs/calibration.log",
    benchmark:
        "benchmarks/calibration.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/calibration.py"


rule write_front_page:
    input:
        tests="evals/compare/paired_tests.csv",
        intervals=[
            "evals/baseline/bootstrap_ci.csv",
            "evals/postqlora/bootstrap_ci.csv",
        ],
        precision=["evals/compare/precision.csv"] if EXTRA_PRECISIONS else [],
        knowledge=(
            ["evals/knowledge/learning_curves.csv", "evals/knowledge/gekhman_fit.csv"]
            if MIX_ADAPTERS
            else []
        ),
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
        model_dir=get_model_dir(None),
        external_adapter=str(EXTERNAL_ADAPTER.path) if EXTERNAL_ADAPTER else "",
    script:
        "../workflow/scripts/write_front_page.py"
