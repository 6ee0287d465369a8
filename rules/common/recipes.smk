# Fine-tuning: the recipes, the data each trains on, the adapters they give and an external one.
from dataclasses import asdict

from ll_hallucination_pipeline.models import external_adapter
from ll_hallucination_pipeline.training import load_recipe, sft_data_file

# Recipes are validated here, before any job: a malformed one stops the run with its file and key.
RECIPES = {
    name: stop_on_bad_input(
        load_recipe, Path(config["qlora"]["recipes_dir"]) / f"qlora_{name}.toml"
    )
    for name in config["qlora"]["recipes"]
}
# Fine-tuning data each recipe reads: a registered data set, or a user's file or hub data set prepared into
# data/user_<stem>.jsonl / data/hub_<id>.jsonl (its own DAG target, so a changed file re-trains its adapters).
RECIPE_DATA = {name: sft_data_file(recipe.data) for name, recipe in RECIPES.items()}


def sft_sources():
    """Prepared file stem -> the [data] section naming a user's file or hub data set behind it."""
    sources = {}
    for name, recipe in RECIPES.items():
        if recipe.data.file or recipe.data.hub:
            first = sources.setdefault(Path(RECIPE_DATA[name]).stem, recipe.data)
            if (first.file, first.hub, first.split) != (
                recipe.data.file,
                recipe.data.hub,
                recipe.data.split,
            ):
                raise PipelineInputError(
                    f"recipes name different data that would be prepared as one file ({RECIPE_DATA[name]}); "
                    "give the files different names"
                )
    return sources


SFT_SOURCES = stop_on_bad_input(sft_sources)
TRAINED_ADAPTERS = {
    f"{name}_seed{seed}": name
    for name, recipe in RECIPES.items()
    for seed in recipe.training.seeds
}
# $LORA_ADAPTER_PATH: an adapter trained elsewhere, evaluated as "external-<dir name>".
EXTERNAL_ADAPTER = stop_on_bad_input(external_adapter)
ADAPTERS = list(TRAINED_ADAPTERS) + (
    [EXTERNAL_ADAPTER.name] if EXTERNAL_ADAPTER else []
)


def get_recipe_file(wildcards):
    return str(Path(config["qlora"]["recipes_dir"]) / f"qlora_{wildcards.recipe}.toml")


def get_recipe_data(wildcards):
    return RECIPE_DATA[wildcards.recipe]


def get_sft_readers(wildcards):
    """The [data] sections of the recipes that train on data/<sft>.jsonl (checked when it is prepared)."""
    return [
        asdict(RECIPES[name].data)
        for name, file in RECIPE_DATA.items()
        if file == f"data/{wildcards.sft}.jsonl"
    ]


def get_sft_source(wildcards):
    """The user's own fine-tuning file behind data/<sft>.jsonl (none for a hub data set)."""
    file = SFT_SOURCES[wildcards.sft].file
    return [file] if file else []


def adapter_dir(name):
    """A trained adapter's directory (a DAG target), or the one $LORA_ADAPTER_PATH names."""
    if EXTERNAL_ADAPTER and name == EXTERNAL_ADAPTER.name:
        return str(EXTERNAL_ADAPTER.path)
    return f"adapters/{name}"


def get_adapter_dir(wildcards):
    return adapter_dir(wildcards.adapter)


def get_recipe_files(wildcards):
    return [
        str(Path(config["qlora"]["recipes_dir"]) / f"qlora_{name}.toml")
        for name in RECIPES
    ]
