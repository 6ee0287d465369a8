"""Tasks and their data: the registry of lm-eval tasks and data sets, users' own task YAMLs, data files
prepared and checked, answers classified, lm-eval's outputs read back.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "data": [
            "QUESTION_POOLS",
            "check_records",
            "local_source",
            "prepare_dataset",
            "read_jsonl",
            "require_hub_copy",
            "split_question_pool",
            "will_be_prepared",
        ],
        "own_tasks": ["register_own_tasks"],
        "registry": [
            "CALIBRATION_METRIC_LABELS",
            "DATA_SETS",
            "TASKS",
            "Task",
            "generated_text",
            "get_data_set",
            "get_task",
            "task_data_file",
        ],
        "results": ["EvalRun", "RESULTS_NAME", "SCORING_NAME", "request_loglikelihoods", "run_files", "samples_name"],
    },
)
