"""Identity of a scoring model, the key of its score cache."""

from __future__ import annotations

from pathlib import Path

from .quantization import QuantizationSettings
from .weights_hash import weights_sha256

# How 4-bit weights are multiplied when scoring: dequantized to the compute dtype, then a plain matmul
# (bitsandbytes' own CUDA path for more than one token); a LoRA update is added by addmm in the compute
# dtype on every device; attention by any SDPA kernel but cuDNN's (see ``forward_layout.ATTENTION_KERNELS``);
# rotary frequencies in float32 with an adapter too (see ``inference_layers.cast_float32_parameters``).
# Part of every model fingerprint, so scores computed another way are never taken from the cache.
NUMERICS = "dequantize-then-matmul; lora addmm in the compute dtype; sdpa without cudnn; rope float32"


def model_fingerprint(
    model_dir: str | Path,
    settings: QuantizationSettings,
    adapter_dir: str | Path | None = None,
    *,
    device: str,
    model_sha256: str | None = None,
    merged: bool = False,
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
    if merged:  # a merged adapter scores differently from the same adapter unmerged
        parts["merged"] = True
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
