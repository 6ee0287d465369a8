# Each wildcard takes only the values the config and recipes name.
from ll_hallucination_pipeline.tasks import DATA_SETS, QUESTION_POOLS


wildcard_constraints:
    task="|".join(TASKS),
    seed=r"\d+",
    limit=r"\d+",
    dataset="|".join(DATA_SETS),
    recipe="|".join(RECIPES) or "^$",
    sft="|".join(SFT_SOURCES) or "^$",
    adapter="|".join(ADAPTERS) or "^$",
    precision="bf16|merged",
    probe_set="|".join(PROBED_SETS) or "^$",
    pool="|".join(QUESTION_POOLS),
