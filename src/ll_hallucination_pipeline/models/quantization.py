"""How the base model's weights are quantized when loaded.

Quantization is described by :class:`QuantizationSettings` (from config, or from lm-eval's hf-backend
``load_in_4bit=...`` model_args string, which transformers 5 no longer accepts as kwargs) and turned
into a ``BitsAndBytesConfig`` by :func:`get_quantization_config`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..utils import PipelineInputError, native_cpu_dtype

if TYPE_CHECKING:
    import torch
    from transformers import BitsAndBytesConfig

QUANT_MODES = ("nf4", "fp4", "int8", "none")
DTYPES = ("bfloat16", "float16", "float32")
CPU_DTYPES = (*DTYPES, "auto")


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
    """Translate the quantization keys of an lm-eval ``--model_args`` string into settings.

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
