"""PEFT adapter directories: complete, trained on the configured base model, shaped for it.

Checked for adapters the pipeline trained (their manifest names the base weights' hash) and for adapters
trained elsewhere (``$LORA_ADAPTER_PATH``: their LoRA shapes and target modules are compared with the base
checkpoint's own weights, read from the safetensors headers without loading them).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..utils import PipelineInputError, atomic_write_text
from .weights_hash import weights_sha256

MANIFEST_NAME = "manifest.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
ADAPTER_PATH_ENV = "LORA_ADAPTER_PATH"
LORA_PREFIX = "base_model.model."

log = logging.getLogger(__name__)


def tensor_shapes(files: list[Path]) -> dict[str, tuple[list[int], str]]:
    """Name -> (shape, dtype) of every tensor in safetensors ``files``, from their headers only; ``ValueError``
    for a file whose header is unreadable or whose data is cut short."""
    shapes = {}
    for file in files:
        with open(file, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        tensors = {name: t for name, t in header.items() if name != "__metadata__"}
        if 8 + size + max((t["data_offsets"][1] for t in tensors.values()), default=0) > file.stat().st_size:
            raise ValueError(f"{file} is cut short")
        shapes |= {name: (t["shape"], t["dtype"]) for name, t in tensors.items()}
    return shapes


def sort_target_modules(adapter_dir: Path) -> None:
    """Write ``adapter_config.json``'s ``target_modules`` in sorted order: peft saves a set in hash order, which
    differs from process to process, so two trainings of the same adapter would otherwise differ in this file."""
    config_file = adapter_dir / "adapter_config.json"
    config = json.loads(config_file.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        atomic_write_text(config_file, json.dumps(config, indent=2, sort_keys=True))


def check_adapter_fits(adapter_dir: Path, model_dir: Path) -> None:
    """Fail, naming the module, unless every LoRA matrix of ``adapter_dir`` fits a linear layer of ``model_dir``."""
    base = tensor_shapes(sorted(Path(model_dir).glob("*.safetensors")))
    if not base:
        return  # a .bin checkpoint: nothing to read cheaply; peft checks when it loads
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    trained_for = config.get("base_model_name_or_path") or "an unnamed model"
    for name, (shape, _) in tensor_shapes([adapter_dir / "adapter_model.safetensors"]).items():
        module, _, part = name.removeprefix(LORA_PREFIX).rpartition(".lora_")
        if part not in ("A.weight", "B.weight"):
            continue
        weight = base.get(f"{module}.weight")
        if weight is None:
            raise PipelineInputError(
                f"adapter {adapter_dir} targets {module}, which the base model {model_dir} does not have; it was "
                f"trained for {trained_for}: set MODEL_PATH/model.path to that model or use a matching adapter"
            )
        (out_features, in_features), dtype = weight
        if dtype == "U8":
            continue  # pre-quantized 4-bit weights are packed: their stored shape is not the layer's
        fits = shape[1] == in_features if part == "A.weight" else shape[0] == out_features
        if not fits:
            raise PipelineInputError(
                f"adapter {adapter_dir} does not fit the base model {model_dir}: {module} is {out_features}x"
                f"{in_features} there, the adapter's lora_{part[0]} is {shape[0]}x{shape[1]}; it was trained for "
                f"{trained_for}: set MODEL_PATH/model.path to that model or use a matching adapter"
            )
    other_base = named_other_base(adapter_dir, model_dir)
    if other_base:
        log.warning("%s", other_base)


def named_other_base(adapter_dir: Path, model_dir: Path) -> str | None:
    """What to say where an adapter without our manifest names another base than ``model_dir`` in its
    ``adapter_config.json`` (a hub id and a local path may name the same model, so it is evaluated anyway), or
    ``None`` where the names agree, none is given, or our manifest records the base."""
    if (adapter_dir / MANIFEST_NAME).is_file():
        return None
    trained_for = str(
        json.loads((adapter_dir / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
    )
    if not trained_for or Path(trained_for).name.lower() == Path(model_dir).name.lower():
        return None
    return (
        f"adapter {adapter_dir} names {trained_for} as its base; its LoRA shapes fit the configured base model "
        f"{model_dir}, so it is evaluated on that model: check this is the pairing you mean"
    )


def check_adapter_dir(
    adapter_dir: str | Path, model_dir: str | Path | None = None, *, model_sha256: str | None = None
) -> dict[str, Any]:
    """Fail early unless ``adapter_dir`` is a complete adapter, and one for ``model_dir`` (if given): trained on
    it (our manifest's weights hash against ``model_sha256``, where already known) and shaped for it."""
    adapter_dir = Path(adapter_dir)
    if not adapter_dir.is_dir():
        raise PipelineInputError(
            f"adapter {adapter_dir} does not exist; train it (adapters/<recipe>_seed<N>) or fix {ADAPTER_PATH_ENV}"
        )
    missing = [name for name in ADAPTER_FILES if not (adapter_dir / name).is_file()]
    if missing:
        raise PipelineInputError(f"adapter {adapter_dir} is incomplete (missing {', '.join(missing)}); re-train it")
    manifest_file = adapter_dir / MANIFEST_NAME
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    if model_dir is None:
        return manifest
    trained_on = manifest.get("base_model_sha256")
    if trained_on and trained_on != (model_sha256 or weights_sha256(model_dir)):
        raise PipelineInputError(
            f"adapter {adapter_dir} was trained on {manifest.get('base_model_path')}, not on the configured "
            f"base model {model_dir}; set MODEL_PATH/model.path to its base or re-train the adapter"
        )
    check_adapter_fits(adapter_dir, Path(model_dir))
    return manifest


@dataclass(frozen=True)
class ExternalAdapter:
    """An adapter trained elsewhere (``$LORA_ADAPTER_PATH``), evaluated under ``name``."""

    name: str
    path: Path


def external_adapter(model_dir: str | Path | None = None) -> ExternalAdapter | None:
    """The checked adapter ``$LORA_ADAPTER_PATH`` names, or ``None`` when unset: complete, and, where the base
    checkpoint ``model_dir`` exists already, shaped for it (LoRA shapes and target modules against its weights'
    headers; no weights are read), so a mismatch stops the run before any job."""
    raw = os.environ.get(ADAPTER_PATH_ENV)
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    check_adapter_dir(path)
    if model_dir is not None and Path(model_dir).is_dir():
        check_adapter_fits(path, Path(model_dir))
    return ExternalAdapter(name=f"external-{path.name}", path=path)
