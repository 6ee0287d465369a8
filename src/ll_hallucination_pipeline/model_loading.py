"""Load the base checkpoint quantized, optionally with a PEFT adapter, and its tokenizer."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .devices import best_device
from .inference_layers import dequantize_4bit_linears, fuse_lora_linears
from .quantization import QuantizationSettings, get_quantization_config, torch_dtype

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


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

    ``for_inference`` runs the adapter in the compute dtype (peft keeps it in float32), unmerged, each update
    added in one multiply-add, and on the CPU dequantizes 4-bit weights once (see :mod:`.inference_layers`).
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
            model.to(torch_dtype(settings.compute_dtype))
        if for_inference:
            fuse_lora_linears(model, torch_dtype(settings.compute_dtype))
    log.info("model loaded (%s, %s) in %.1f s", settings.mode, device, time.perf_counter() - started)
    return model
