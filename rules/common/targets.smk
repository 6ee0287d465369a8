# What `all` builds, and what the generated documents' manifest hashes.


def provenance_inputs():
    """Name -> path of everything the generated documents depend on (hashed into docs/manifest.json)."""
    items = {"config": "config.yaml", "model": MODEL_WEIGHTS_RECORD}
    items |= {file.removesuffix(".jsonl"): file for file in TASK_DATA}
    items |= {f"task/{task}": yaml for task, yaml in OWN_TASK_YAMLS.items()}
    items |= {file.removesuffix(".jsonl"): file for file in RECIPE_DATA.values()}
    items |= {f"recipe/{name}": f for name, f in zip(RECIPES, get_recipe_files(None))}
    items |= {f"adapter/{a}": adapter_dir(a) for a in ADAPTERS}
    return items


def get_provenance_inputs(wildcards):
    return list(provenance_inputs().values())


def get_provenance_names(wildcards):
    return list(provenance_inputs())


def get_all_targets(wildcards):
    if EVAL["limit"] is not None:
        return expand(
            f"{DRAFT_RUN}/results.json", task=TASKS, seed=SEEDS, limit=EVAL["limit"]
        ) + expand(
            f"{POST_DRAFT_RUN}/results.json",
            adapter=ADAPTERS,
            task=TASKS,
            seed=SEEDS,
            limit=EVAL["limit"],
        )
    # Every per-seed result and adapter is a target of its own too: after an interrupted run, one that is
    # missing is rebuilt even where the summaries made from it still stand.
    targets = [
        "docs/nvidia-smi.txt",
        "docs/torch_env.txt",
        "docs/smoke_test.json",
        "evals/baseline/summary.csv",
        "evals/baseline/bootstrap_ci.csv",
        *get_baseline_runs(wildcards),
        "docs/figures/reliability.png",
        *[f"evals/knowledge/{s}/counts.csv" for s in PROBED_SETS],
    ]
    if ADAPTERS:
        targets += [
            "evals/postqlora/summary.csv",
            "evals/compare/deltas.csv",
            "docs/manifest.json",
            "docs/eval_card_pre.template.md",
            "docs/figures/tradeoff_scatter.png",
            FRONT_PAGE,
            *get_postqlora_runs(wildcards),
            *[adapter_dir(name) for name in TRAINED_ADAPTERS],
        ]
        if JUDGES:
            targets += ["evals/judge/summary.csv", "evals/judge/paired_tests.csv"]
        if EXTRA_PRECISIONS:
            targets.append("evals/compare/precision.csv")
        if MIX_ADAPTERS:
            targets += ["evals/knowledge/table2.csv", "docs/figures/knowledge_mix.png"]
    return targets
