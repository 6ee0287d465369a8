"""Precision of a 4-bit model prepared for training: where peft's float32 upcast is undone or stored compactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import cast_float32_parameters, torch_dtype

if TYPE_CHECKING:
    import torch


def cast_unquantized(model: torch.nn.Module, dtype: str) -> None:
    """Cast the float32 weights of a 4-bit model (those left unquantized: embeddings, norms, lm_head) to ``dtype``.

    Undoes peft's kbit preparation upcast, which doubles those weights' memory and keeps the residual
    stream, and so every saved activation, in float32.
    """
    cast_float32_parameters(model, torch_dtype(dtype))


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
