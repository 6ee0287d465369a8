"""Layers swapped in for scoring: 4-bit weights dequantized once on the CPU, and on every device a LoRA
update applied unmerged, in the compute dtype, in one multiply-add.

peft computes a LoRA layer as ``base(x) + lora_B(lora_A(x)) * scaling`` with the update in float32: three
more passes over the layer's output and a float32 copy of its input. On a CPU those cost more than the base
matmul itself; on a GPU they about double an NF4 layer's time (``bench/cpu_lora_layer.py``,
``bench/gpu_layers.py``; figures in bench/RESULTS.md). :class:`LoraAddmmLinear` adds the update inside one
``addmm_``, accumulating it in float32 before its single rounding. Merging the update into the weights instead would
round away every change smaller than half a bf16 step of the weight it is added to, which is most of what
a short fine-tune learns (and 4-bit weights cannot take it at all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from collections.abc import Callable

    from torch import nn


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


def cast_float32_parameters(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Cast ``model``'s float32 parameters (a LoRA adapter as peft loads it, weights kept unquantized) to
    ``dtype``. Buffers keep theirs: ``model.to(dtype)`` would round a rotary embedding's float32 frequencies
    too, and every position's angle with them, so that an adapter whose update is zero would no longer score
    as its base does."""
    for param in model.parameters():
        if param.dtype == torch.float32:
            param.data = param.data.to(dtype)


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


class LoraAddmmLinear(torch.nn.Module):
    """``base(x) + scaling * (x @ A.T) @ B.T`` with the second product added in place by ``addmm_``.

    For inference only: the output of ``base`` is overwritten, so no gradient may flow through it.
    """

    def __init__(
        self, base: nn.Module, lora_a: torch.Tensor, lora_b: torch.Tensor, scaling: float, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.base = base
        self.register_buffer("lora_a", lora_a.detach().to(dtype))
        self.register_buffer("lora_b_t", lora_b.detach().to(dtype).t().contiguous())
        self.scaling = float(scaling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        flat = out.view(-1, out.shape[-1])
        flat.addmm_(x.reshape(-1, x.shape[-1]) @ self.lora_a.t(), self.lora_b_t, alpha=self.scaling)
        return out


def plain_lora_adapter(layer: nn.Module) -> str | None:
    """The one active adapter of a plain LoRA linear (peft's ``Linear`` or ``Linear4bit`` over a plain
    ``nn.Linear`` or bitsandbytes 4-bit base, unmerged, no variant such as DoRA, no LoRA bias): a layer whose
    update one ``addmm`` can add. ``None`` for any other module."""
    import bitsandbytes as bnb
    from peft.tuners.lora.bnb import Linear4bit as LoraLinear4bit
    from peft.tuners.lora.layer import Linear as LoraLinear

    if type(layer) not in (LoraLinear, LoraLinear4bit) or layer.merged or len(layer.active_adapters) != 1:
        return None
    adapter = layer.active_adapters[0]
    plain = adapter in layer.lora_A and adapter not in layer.lora_variant and not layer.lora_bias.get(adapter, False)
    return adapter if plain and type(layer.base_layer) in (torch.nn.Linear, bnb.nn.Linear4bit) else None


def fuse_lora_linears(model: nn.Module, dtype: torch.dtype) -> int:
    """Replace each plain LoRA linear layer of ``model`` (:func:`plain_lora_adapter`) by a
    :class:`LoraAddmmLinear` computing in ``dtype`` (the base's compute dtype); any other layer keeps peft's own
    forward. Returns how many were replaced."""

    def fused(child: nn.Module) -> LoraAddmmLinear | None:
        adapter = plain_lora_adapter(child)
        if adapter is None:
            return None
        weights = (child.lora_A[adapter].weight, child.lora_B[adapter].weight)
        return LoraAddmmLinear(child.base_layer, *weights, child.scaling[adapter], dtype)

    return replace_modules(model, fused)
