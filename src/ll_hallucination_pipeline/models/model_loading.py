"""Load the base checkpoint quantized, optionally with a PEFT adapter, and its tokenizer."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..utils import best_device
from .cpu_attention import use_grouped_query_sdpa
from .inference_layers import cast_float32_parameters, dequantize_4bit_linears, fuse_lora_linears
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
    merge_adapter: bool = False,
) -> PreTrainedModel:
    """Load the base checkpoint quantized per ``settings``, optionally with a PEFT adapter.

    ``for_inference`` runs the adapter in the compute dtype (peft keeps it in float32), unmerged, each update
    added in one multiply-add, and on the CPU dequantizes 4-bit weights once (see :mod:`.inference_layers`) and
    reads grouped key/value heads without copies (:mod:`.cpu_attention`). ``merge_adapter`` merges the adapter
    into an unquantized base instead (peft's ``merge_and_unload``), as a deployed model has it.
    """
    if merge_adapter and (adapter_dir is None or settings.mode != "none"):
        raise ValueError("merge_adapter needs an adapter and an unquantized base (quantization mode none)")
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
        use_grouped_query_sdpa(model)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=trainable_adapter)
        if cpu_inference:
            cast_float32_parameters(model, torch_dtype(settings.compute_dtype))
        if merge_adapter:
            model = model.merge_and_unload()
        elif for_inference:
            fuse_lora_linears(model, torch_dtype(settings.compute_dtype))
    log.info("model loaded (%s, %s) in %.1f s", settings.mode, device, time.perf_counter() - started)
    return model


# Memory an unquantized evaluation needs beyond its weights (activations, key/value caches, the allocator's slack),
# as a share of the weights.
UNQUANTIZED_HEADROOM = 0.15


def check_unquantized_fits(model_dir: str | Path, settings: QuantizationSettings, free_bytes: int) -> None:
    """One line, before loading, when the unquantized base in ``settings``' compute dtype cannot fit in
    ``free_bytes`` of GPU memory with :data:`UNQUANTIZED_HEADROOM` to spare."""
    from .adapters import tensor_shapes

    if settings.mode != "none":
        return
    dtype_bytes = torch_dtype(settings.compute_dtype).itemsize
    elements = sum(
        math.prod(shape) for shape, _ in tensor_shapes(sorted(Path(model_dir).glob("*.safetensors"))).values()
    )
    needed = elements * dtype_bytes * (1 + UNQUANTIZED_HEADROOM)
    if needed > free_bytes:
        from ..utils import PipelineInputError

        raise PipelineInputError(
            f"the unquantized base ({settings.compute_dtype}) needs about {needed / 2**30:.1f} GiB of GPU memory and "
            f"{free_bytes / 2**30:.1f} GiB are free; drop bf16 and merged from eval.precisions, or use a larger GPU"
        )
