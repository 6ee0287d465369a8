"""Where the base model is: ``$MODEL_PATH`` or ``model.path``, checked to be a loadable checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

from ..utils import PipelineInputError
from .weights_hash import WEIGHT_SUFFIXES

MODEL_PATH_ENV = "MODEL_PATH"


def resolve_model_path(configured: str | None) -> Path | None:
    """The user's base model directory: ``$MODEL_PATH`` first, then config; ``None`` = embedded."""
    raw = os.environ.get(MODEL_PATH_ENV) or configured
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    check_model_dir(path)
    return path


def check_model_dir(path: Path) -> None:
    """Fail early, naming the fix, if ``path`` is not a loadable local checkpoint."""
    if path.is_file() and path.suffix == ".gguf":
        raise PipelineInputError(
            f"model path {path} is a GGUF file; the pipeline loads Hugging Face checkpoints: convert it with "
            f'`uv run python -c "from ll_hallucination_pipeline.models.gguf_conversion import convert_gguf_to_hf; '
            f"convert_gguf_to_hf('{path}', 'models/{path.stem}')\"` and set {MODEL_PATH_ENV}=models/{path.stem}"
        )
    if not path.is_dir():
        raise PipelineInputError(
            f"model path {path} does not exist; set {MODEL_PATH_ENV} or model.path to a local "
            "Hugging Face checkpoint directory, or unset both to use the embedded SmolLM2"
        )
    if not (path / "config.json").is_file():
        raise PipelineInputError(f"{path} has no config.json; point {MODEL_PATH_ENV} at a checkpoint directory")
    if not any(p.name.endswith(WEIGHT_SUFFIXES) for p in path.iterdir()):
        raise PipelineInputError(
            f"{path} holds no *.safetensors or *.bin weights; point {MODEL_PATH_ENV} at a full checkpoint"
        )


def check_judge_dir(path: str, key: str) -> Path:
    """A judge checkpoint (config key ``key``): a local checkpoint whose config names a causal LM architecture."""
    import json

    resolved = Path(path).expanduser().resolve()
    if not resolved.is_dir() or not (resolved / "config.json").is_file():
        raise PipelineInputError(
            f"config.yaml: {key}={path!r} is not a checkpoint directory with a config.json; download the judge "
            "(e.g. allenai/truthfulqa-truth-judge-llama2-7B) and point {key} at its directory"
        )
    architectures = json.loads((resolved / "config.json").read_text()).get("architectures") or []
    if not any(name.endswith("ForCausalLM") for name in architectures):
        raise PipelineInputError(
            f"config.yaml: {key}={path!r} is not a causal LM (its config.json names {architectures or 'no'} "
            "architectures); the judge must be a *ForCausalLM checkpoint that answers ' yes' or ' no'"
        )
    check_model_dir(resolved)
    return resolved
