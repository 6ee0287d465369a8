# Task and fine-tuning data: where each file comes from, checked before any job (re)prepares it.
from ll_hallucination_pipeline.tasks import (
    check_records,
    get_data_set,
    local_source,
    read_jsonl,
    require_hub_copy,
    will_be_prepared,
)
from ll_hallucination_pipeline.training import checked_records, read_records


def data_source(dataset):
    """Local file a dataset is copied from, or None to download it from the hub."""
    source, local_dir = config["data"]["source"], config["data"]["local_dir"]
    local = Path(local_dir) / get_data_set(dataset).local_file
    if source == "hub" or not local.is_file():
        require_hub_copy(dataset)
    if source == "local" or (source == "auto" and local.is_file()):
        return local_source(dataset, local_dir)
    return None


def check_sources_to_prepare():
    """Check, record by record, the local sources the DAG is about to (re)prepare: a bad file stops the run here,
    before any job, so nothing already prepared or computed is cleared for a job that would fail.
    """
    for name in sorted(
        {
            Path(f).stem
            for f in [*TASK_DATA, *RECIPE_DATA.values()]
            if Path(f).parent == Path("data")
        }
        & set(DATA_SETS)
    ):
        source = data_source(name)
        if source and will_be_prepared(source, f"data/{name}.jsonl"):
            check_records(name, read_jsonl(source), str(source))
    for name, data in SFT_SOURCES.items():
        if data.file and will_be_prepared(data.file, f"data/{name}.jsonl"):
            for recipe in RECIPES.values():
                if RECIPE_DATA[recipe.name] == f"data/{name}.jsonl":
                    checked_records(recipe.data, read_records(data.file), data.file)


stop_on_bad_input(check_sources_to_prepare)


def get_data_source(wildcards):
    source = data_source(wildcards.dataset)
    return [str(source)] if source else []
