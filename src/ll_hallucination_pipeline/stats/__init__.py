"""Statistics: intervals, paired tests and power; calibration; the pre/post deltas and their paired tests.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "analysis": [
            "RunSet",
            "calibration_tables",
            "deltas_table",
            "judge_summary",
            "judge_tests_table",
            "paired_tests_table",
            "precision_table",
        ],
        "calibration": ["CALIBRATION_SMALL_N"],
        "knowledge_fit": ["fit_points", "gekhman_fit"],
        "methods": ["StatsSettings", "mean_interval"],
    },
)
