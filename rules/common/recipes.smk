# Fine-tuning: the recipes, the data each trains on, the adapters they give and an external one.
from dataclasses import asdict

from ll_hallucination_pipeline.models import external_adapter
from ll_hallucination_pipeline.inference import PROBE_SETS
from ll_hallucination_pipeline.training import knowledge_mix, load_recipe, sft_data_file

# Recipes are validated here, before any job: a malformed one stops the run with its file and key.
RECIPES = {
    name: stop_on_bad_input(
        load_recipe, Path(config["qlora"]["recipes_dir"]) / f"qlora_{name}.toml"
    )
    for name in config["qlora"]["recipes"]
}
# Fine-tuning data each recipe reads: a registered data set, or a user's file or hub data set prepared into
# data/user_<stem>.jsonl / data/hub_<id>.jsonl (its own DAG target, so a changed file re-trains its adapters).
RECIPE_DATA = {name: sft_data_file(recipe) for name, recipe in RECIPES.items()}


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
# Recipes whose examples are chosen by the base model's knowledge of a question pool (SliCK categories).
KNOWLEDGE_MIXES = {
    name: knowledge_mix(
        Path(config["qlora"]["recipes_dir"]) / f"qlora_{name}.toml",
        recipe.data.knowledge,
    )
    for name, recipe in RECIPES.items()
    if recipe.data.knowledge
}


def check_mix_sizes():
    """Where the probe of a mix's pool has run already, a mix asking for more examples of a category than it
    found stops the run here, before any job (else its select_knowledge_mix job stops with the same message).
    """
    import csv

    from ll_hallucination_pipeline.training import heldout_items, select_mix

    for name, mix in KNOWLEDGE_MIXES.items():
        probed = Path(f"evals/knowledge/{mix.pool}/items.csv")
        if probed.is_file():
            with open(probed, newline="") as handle:
                categories = [row["category"] for row in csv.DictReader(handle)]
            held = heldout_items(categories, config["knowledge"]["heldout"])
            select_mix(categories, held, mix, recipe=name)


stop_on_bad_input(check_mix_sizes)
# The sets the probe categorizes: those the config names, the mixes' pools and, where a mix trains, every
# evaluation task that has a probe set (its deltas are then reported per category too).
CATEGORIZED_TASKS = [
    t for t in config["eval"]["tasks"] if KNOWLEDGE_MIXES and t in PROBE_SETS
]
PROBED_SETS = list(
    dict.fromkeys(
        [
            *config["knowledge"]["sets"],
            *(mix.pool for mix in KNOWLEDGE_MIXES.values()),
            *CATEGORIZED_TASKS,
        ]
    )
)
TRAINED_ADAPTERS = {
    f"{name}_seed{seed}": name
    for name, recipe in RECIPES.items()
    for seed in recipe.training.seeds
}
# $LORA_ADAPTER_PATH: an adapter trained elsewhere, evaluated as "external-<dir name>".
EXTERNAL_ADAPTER = stop_on_bad_input(external_adapter, get_model_dir(None))
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


def get_mix_pool(wildcards):
    """A knowledge mix's question pool (its prepared data file) and the probe's categories of it."""
    pool = KNOWLEDGE_MIXES[wildcards.recipe].pool
    return {
        "pool": f"data/{PROBE_SETS[pool].data}.jsonl",
        "categories": f"evals/knowledge/{pool}/items.csv",
    }


def get_heldout_data(wildcards):
    """The held-out slice a knowledge mix's learning curve measures accuracy on (none for other recipes)."""
    name = wildcards.recipe
    return [f"data/knowledge/{name}/heldout.jsonl"] if name in KNOWLEDGE_MIXES else []


# The adapters trained on knowledge mixes: their learning curves and per-category deltas are analyzed together.
MIX_ADAPTERS = [a for a, name in TRAINED_ADAPTERS.items() if name in KNOWLEDGE_MIXES]


def get_mix_adapters(wildcards):
    return [adapter_dir(a) for a in MIX_ADAPTERS]
