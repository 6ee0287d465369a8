"""Training: QLoRA recipes, fine-tuning data, trl's ``SFTTrainer`` with a peft LoRA, and what makes it fast on a GPU.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "mix_selection": ["heldout_items", "qa_example", "select_mix"],
        "learning_curve": ["CURVE_NAME"],
        "recipe": ["DataSection", "KnowledgeMix", "Recipe", "knowledge_mix", "load_recipe"],
        "sft_data": ["checked_records", "prepare_sft_data", "read_records", "sft_data_file"],
        "train": ["train_adapter"],
    },
)
