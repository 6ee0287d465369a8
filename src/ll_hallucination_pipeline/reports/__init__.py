"""Reports: summary tables, the exported documents, the figures and the front page.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "exports": [
            "delta_summary",
            "eval_card_template",
            "experiment_matrix",
            "generated_markdown",
            "heading",
            "manifest",
            "markdown_table",
            "qualitative",
            "recipe_table",
        ],
        "front_page": ["front_page"],
        "knowledge": ["category_tests", "curve_figure", "knowledge_lines", "mix_figure", "table2"],
        "plots": ["precision_figure", "reliability_figure", "save_figure", "tradeoff_scatter"],
        "summary": ["write_summaries"],
    },
)
