"""A copy of a model under LoRA training in the scorer's CPU layers, for forwards between training steps.

On the CPU, bitsandbytes' training path dequantizes every 4-bit weight in every forward and peft adds each LoRA
update in float32; a forward of the copy runs what the scorer runs instead (:func:`.model_loading.load_model`
with ``for_inference``): weights dequantized once, everything in the compute dtype, each LoRA update in one
multiply-add, grouped key/value heads read without copies.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .cpu_attention import use_grouped_query_sdpa
from .inference_layers import (
    LoraAddmmLinear,
    cast_float32_parameters,
    dequantize_4bit_linears,
    fuse_lora_linears,
    plain_lora_adapter,
)

if TYPE_CHECKING:
    import torch


class ScoringCopy:
    """The copy of ``model`` (a peft model whose 4-bit weights no forward has repacked yet), made once; each
    :meth:`current` call gives it the trained weights ``model`` has then."""

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype) -> None:
        self.source = model
        self.model = copy.deepcopy(model)
        dequantize_4bit_linears(self.model)
        cast_float32_parameters(self.model, dtype)
        plain = {name: adapter for name, module in model.named_modules() if (adapter := plain_lora_adapter(module))}
        fuse_lora_linears(self.model, dtype)
        use_grouped_query_sdpa(self.model)
        self.model.eval()
        self.fused: list[tuple[torch.nn.Module, str, LoraAddmmLinear]] = [
            (model.get_submodule(name), adapter, self.model.get_submodule(name)) for name, adapter in plain.items()
        ]

    def current(self) -> torch.nn.Module:
        """The copy with the source's trainable weights as they are now."""
        import torch

        with torch.no_grad():
            for layer, adapter, fused in self.fused:
                fused.lora_a.copy_(layer.lora_A[adapter].weight)
                fused.lora_b_t.copy_(layer.lora_B[adapter].weight.t())
            # Trainable weights outside plain LoRA layers (a DoRA magnitude, a module trained whole) by name.
            params = dict(self.model.named_parameters())
            for name, param in self.source.named_parameters():
                if param.requires_grad and name in params:
                    params[name].copy_(param)
        return self.model
