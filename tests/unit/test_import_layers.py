"""The package's folders are its layers: a module imports only from its own folder or the folders below it, another
folder only through the names its ``__init__`` exposes, and no import cycle exists. Read from the source with
``ast``; a new folder must be given a layer here, a new module only needs to sit in one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ll_hallucination_pipeline"
NAME = PACKAGE.name

# Bottom to top: the folder, what it holds.
LAYERS: list[tuple[str, str]] = [
    ("utils", "errors, atomic writes, the device, the environment"),
    ("tasks", "the task registry, task data, lm-eval's outputs read back"),
    ("models", "checkpoints, quantization, loading, adapters"),
    ("inference", "scoring, generation, evaluation, judging"),
    ("training", "recipes, fine-tuning data, QLoRA training"),
    ("stats", "intervals, paired tests, calibration, deltas"),
    ("reports", "tables, documents, figures, the front page"),
    ("workflow", "the config and the steps Snakemake calls"),
]
LAYER_OF = {folder: index for index, (folder, _) in enumerate(LAYERS)}


def exposed_names(folder: Path) -> dict[str, str]:
    """Name -> module, as the folder's ``__init__`` exposes them (``lazy_loader.attach(..., submod_attrs=...)``)."""
    for node in ast.walk(ast.parse((folder / "__init__.py").read_text())):
        if isinstance(node, ast.keyword) and node.arg == "submod_attrs":
            mapping = ast.literal_eval(node.value)
            return {name: f"{folder.name}.{module}" for module, names in mapping.items() for name in names}
    return {}


def top_level_names(file: Path) -> set[str]:
    names = set()
    for node in ast.parse(file.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def modules() -> dict[str, Path]:
    """'folder.module' -> file, for every module of the package but its own ``__init__``."""
    return {
        ".".join(file.relative_to(PACKAGE).with_suffix("").parts): file
        for file in sorted(PACKAGE.rglob("*.py"))
        if file.name != "__init__.py"
    }


def package_imports() -> dict[str, set[tuple[str, str]]]:
    """Module -> (imported module, how: 'own folder', 'exposed' or 'reached into'), lazy imports included."""
    exposed = {folder: exposed_names(PACKAGE / folder) for folder in LAYER_OF if (PACKAGE / folder).is_dir()}
    graph = {}
    for module, file in modules().items():
        folder = module.split(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = module.split(".")[: -node.level] + (node.module.split(".") if node.module else [])
                elif (node.module or "").startswith(f"{NAME}."):
                    parts = node.module.split(".")[1:]
                else:
                    continue
                imported |= resolve(parts, [a.name for a in node.names], folder, exposed)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(f"{NAME}."):
                        imported |= resolve(alias.name.split(".")[1:], [], folder, exposed)
        graph[module] = {target for target in imported if target[0] != module}
    return graph


def resolve(parts: list[str], names: list[str], folder: str, exposed: dict) -> set[tuple[str, str]]:
    if len(parts) >= 2:
        return {(".".join(parts[:2]), "own folder" if parts[0] == folder else "reached into")}
    return {(exposed.get(parts[0], {}).get(name, f"{parts[0]}.?{name}"), "exposed") for name in names}


def test_every_module_sits_in_a_layer_folder():
    assert sorted(m for m in modules() if "." not in m) == []  # nothing beside the folders but __init__
    assert sorted({m.split(".")[0] for m in modules()} - set(LAYER_OF)) == []
    assert sorted(f for f in LAYER_OF if not (PACKAGE / f / "__init__.py").is_file()) == []


def test_each_folder_exposes_names_its_modules_define():
    files = modules()
    missing = [
        f"{folder}/__init__ exposes {name} from {module}, which does not define it"
        for folder in LAYER_OF
        for name, module in exposed_names(PACKAGE / folder).items()
        if module not in files or name not in top_level_names(files[module])
    ]
    assert missing == []


def test_imports_never_run_up_the_layers():
    upward = [
        f"{module} imports {target}"
        for module, targets in package_imports().items()
        for target, _ in sorted(targets)
        if LAYER_OF[target.split(".")[0]] > LAYER_OF[module.split(".")[0]]
    ]
    assert upward == []


def test_other_folders_are_used_through_their_exposed_names():
    hidden = [
        f"{module} imports {target} ({how})"
        for module, targets in package_imports().items()
        for target, how in sorted(targets)
        if how == "reached into" or "?" in target
    ]
    assert hidden == []


def test_no_import_cycle():
    graph = {module: {target for target, _ in targets} for module, targets in package_imports().items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_checks_see_a_cycle_an_upward_import_and_a_reach_into_a_folder(monkeypatch):
    """The checks above can fail: fed such a graph, they do."""
    fake = {
        "utils.io": {("stats.methods", "exposed")},
        "stats.methods": {("utils.io", "exposed"), ("models.adapters", "reached into")},
    }
    monkeypatch.setattr(f"{__name__}.package_imports", lambda: fake)
    with pytest.raises(pytest.fail.Exception, match=r"import cycle: stats.methods -> utils.io -> stats.methods"):
        test_no_import_cycle()
    with pytest.raises(AssertionError, match="utils.io imports stats.methods"):
        test_imports_never_run_up_the_layers()
    with pytest.raises(AssertionError, match=r"stats.methods imports models.adapters \(reached into\)"):
        test_other_folders_are_used_through_their_exposed_names()
