"""Workflow glue: the config checked, the steps Snakemake's rules call, the scripts' logging and GPU claims.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "config": ["SCHEMA_PATH", "check_config", "check_config_files"],
        "pipeline_steps": [
            "plot",
            "write_calibration",
            "write_comparison_tables",
            "write_delta_summary",
            "write_eval_card_templates",
            "write_experiment_matrix",
            "write_front_page",
            "write_judge_tables",
            "write_judgements",
            "write_manifest",
            "write_precision_table",
            "write_qualitative",
            "write_recipe_table",
        ],
        "knowledge_steps": [
            "write_knowledge_analysis",
            "write_knowledge_mix",
            "write_knowledge_probe",
            "write_question_pool",
        ],
        "snakemake_glue": ["logged"],
    },
)
