"""LoRA layers that add their update to the base output inside one matmul while training (recipe key
``fused_lora_update``).

peft computes a LoRA linear as ``base(x).clone() + lora_B(lora_A(dropout(x))) * scaling``: the clone, the
product with ``scaling`` and the sum each pass over the layer's whole output, and the product again in the
backward pass. ``torch.addmm`` adds ``scaling * h @ lora_B.T`` to the base output in the matmul itself, rounding
once instead of after each step: on the 8B shape the fast recipe trains faster with it (bench/RESULTS.md); on
the CPU, in float32 with the embedded model, no gain was measured, so it stays a GPU setting. The layers, their
parameters and the saved adapter stay peft's; only the forward of a plain LoRA linear (one adapter, no variant
such as DoRA, no LoRA bias) under autocast (GPU training) changes; anything else runs peft's own.
"""

from __future__ import annotations

import types
from typing import Any

import torch

from ..models import plain_lora_adapter


def _fused_forward(layer: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    """``base(x) + scaling * lora_B(lora_A(dropout(x)))`` with the update added by ``addmm``."""
    name = plain_lora_adapter(layer)
    off = layer.disable_adapters or kwargs.get("adapter_names") is not None
    if name is None or off or not torch.is_autocast_enabled(x.device.type):
        return type(layer).forward(layer, x, *args, **kwargs)
    result = layer.base_layer(x, *args, **kwargs)
    update = layer.lora_A[name](layer.lora_dropout[name](x))
    flat = torch.addmm(
        result.reshape(-1, result.shape[-1]),
        update.reshape(-1, update.shape[-1]),
        layer.lora_B[name].weight.t(),
        alpha=layer.scaling[name],
    )
    return flat.view(result.shape)


def fuse_lora_updates(model: torch.nn.Module) -> int:
    """Give every plain LoRA linear of ``model`` (a peft model; :func:`~..models.plain_lora_adapter`) the fused
    forward; returns how many."""
    fused = 0
    for module in model.modules():
        if plain_lora_adapter(module) is not None:
            module.forward = types.MethodType(_fused_forward, module)
            fused += 1
    return fused
