"""The package's imports flow one way: each module imports only from its own layer or the layers below it, and
no import cycle exists. Read from the source with ``ast``; a new module must be given a layer here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ll_hallucination_pipeline"

# Bottom to top.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "io", "stats", "abstention", "step_clock", "devices", "environment", "gpu_assignment"}),
    (
        "inputs: tasks, data, settings, results on disk",
        {"tasks", "own_tasks", "config", "data", "results", "recipe", "sft_data", "pairing", "weights_hash"},
    ),
    (
        "model: quantization, paths, GGUF conversion, loading, adapters",
        {
            "quantization",
            "model_paths",
            "gguf_conversion",
            "inference_layers",
            "training_precision",
            "model_loading",
            "fingerprint",
            "adapters",
            "token_budget",
            "score_cache",
            "checkpointing",
            "packed_attention",
            "forward_layout",
        },
    ),
    (
        "work: scoring, generation, evaluation, judging, training",
        {"generation", "scoring", "evaluate", "judge", "smoke", "train"},
    ),
    (
        "analysis: tables, documents, figures",
        {"summary", "calibration", "analysis", "front_page", "exports", "plots"},
    ),
    ("entry points for Snakemake", {"pipeline_steps", "snakemake_glue"}),
]
LAYER_OF = {module: index for index, (_, modules) in enumerate(LAYERS) for module in modules}


def package_imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (at any depth of its code, lazy imports included)."""
    graph = {}
    for file in sorted(PACKAGE.glob("*.py")):
        if file.stem == "__init__":
            continue
        imported = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    imported.add(node.module.split(".")[0])
                elif node.level == 1:
                    imported |= {alias.name for alias in node.names}
                elif (node.module or "").startswith("ll_hallucination_pipeline."):
                    imported.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                imported |= {
                    a.name.split(".")[1] for a in node.names if a.name.startswith("ll_hallucination_pipeline.")
                }
        graph[file.stem] = imported - {file.stem}
    return graph


def test_every_module_has_a_layer():
    assert sorted(set(package_imports()) - set(LAYER_OF)) == []
    assert sorted(set(LAYER_OF) - set(package_imports())) == []  # no layer names a module that is gone


def test_imports_never_run_up_the_layers():
    upward = [
        f"{module} ({LAYERS[LAYER_OF[module]][0]}) imports {target} ({LAYERS[LAYER_OF[target]][0]})"
        for module, targets in package_imports().items()
        for target in sorted(targets)
        if LAYER_OF[target] > LAYER_OF[module]
    ]
    assert upward == []


def test_no_import_cycle():
    graph = package_imports()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_check_sees_a_cycle_and_an_upward_import(monkeypatch):
    """The checks above can fail: fed a graph with a cycle and an upward import, they do."""
    fake = {"io": {"stats"}, "stats": {"io", "analysis"}, "analysis": set()}
    monkeypatch.setattr(f"{__name__}.package_imports", lambda: fake)
    with pytest.raises(pytest.fail.Exception, match="import cycle: io -> stats -> io"):
        test_no_import_cycle()
    with pytest.raises(AssertionError, match="stats .foundation. imports analysis"):
        test_imports_never_run_up_the_layers()
