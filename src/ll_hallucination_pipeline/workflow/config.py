"""Validate the workflow config against its JSON Schema, with one readable line per error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..tasks import register_own_tasks
from ..utils import PipelineInputError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


def load_schema() -> dict[str, Any]:
    """The config schema, its task names taken from the task registry."""
    return _with_registered_tasks(yaml.safe_load(SCHEMA_PATH.read_text()))


def _with_registered_tasks(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the names eval.tasks may use (every task registered in this process) and knowledge.sets may."""
    from ..inference import PROBE_SETS
    from ..tasks import TASKS

    schema["properties"]["eval"]["properties"]["tasks"]["items"] = {"enum": list(TASKS)}
    schema["properties"]["knowledge"]["properties"]["sets"]["items"] = {"enum": list(PROBE_SETS)}
    return schema


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _fix(error: Any) -> str:
    schema = error.schema
    if error.validator == "enum":
        return "use " + " or ".join(map(str, schema["enum"]))
    if error.validator == "additionalProperties":
        return "remove it; allowed keys are " + ", ".join(schema.get("properties", {}))
    if error.validator == "type":
        return f"give a value of type {schema['type']}"
    if error.validator == "oneOf":
        return "use " + " or ".join(map(_describe, schema["oneOf"]))
    return f"{error.message} ({schema.get('description', 'see config.schema.yaml')})"


def _describe(alternative: dict[str, Any]) -> str:
    """One alternative of a ``oneOf``, in words: ``'auto'``, ``an integer >= 256``."""
    if "const" in alternative:
        return repr(alternative["const"])
    bound = f" >= {alternative['minimum']}" if "minimum" in alternative else ""
    return f"an {alternative['type']}{bound}"


def _fill_defaults(node: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = (
                sub["default"] if not isinstance(sub["default"], dict | list) else type(sub["default"])(sub["default"])
            )
        if isinstance(node.get(key), dict) and sub.get("type", "object") == "object":
            _fill_defaults(node[key], sub)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise PipelineInputError(
                    f"{self.name}: line {key_node.start_mark.line + 1}: key {key!r} is given twice; keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def check_config_files(paths: list[str | Path]) -> None:
    """Refuse a config file that gives one key twice (before its values are used, whichever would win)."""
    for path in paths:
        if Path(path).is_file():
            with open(path, encoding="utf-8") as handle:
                yaml.load(handle, Loader=_UniqueKeyLoader)


def check_config(config: dict[str, Any], *, source: str = "config.yaml") -> dict[str, Any]:
    """Fill defaults into ``config`` in place and validate it; raise one line naming key, value and fix."""
    from jsonschema import Draft202012Validator

    schema = load_schema()
    _fill_defaults(config, schema)
    if isinstance(config.get("eval"), dict):
        register_own_tasks(config["eval"])
        _with_registered_tasks(schema)  # the own tasks' names too
    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = _where(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            where = f"{where}.{extra[0]}" if error.absolute_path else extra[0]
            raise PipelineInputError(f"{source}: {where} is not a known key; {_fix(error)}")
        raise PipelineInputError(f"{source}: {where}={error.instance!r} is invalid; {_fix(error)}")
    precisions = config["eval"]["precisions"]
    if "nf4" not in precisions:
        raise PipelineInputError(
            f"{source}: eval.precisions={precisions!r} lacks nf4, the base the adapters are trained on and the "
            "study's own; list it first, e.g. [nf4, bf16]"
        )
    if "merged" in precisions and "bf16" not in precisions:
        raise PipelineInputError(
            f"{source}: eval.precisions={precisions!r} has merged without bf16; a merged adapter is compared with "
            "the unquantized base, so add bf16: [nf4, bf16, merged]"
        )
    return config
