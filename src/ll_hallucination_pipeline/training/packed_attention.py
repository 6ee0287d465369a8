"""Attention for padding-free packed training on a GPU: each packed sequence attends to itself only.

trl's padding-free packing flattens a micro-batch into one row with ``position_ids`` and sequence
boundaries (``cu_seq_lens_q``). With transformers' ``sdpa`` attention that row gets one dense
block-diagonal mask, so a micro-batch of 16 sequences of 512 tokens computes attention over 8192 x 8192
positions, nearly all of them masked. Registered as ``packed_varlen``, :func:`packed_varlen_attention`
runs PyTorch's variable-length FlashAttention (``torch.nn.attention.varlen``) over the sequences instead,
and falls back to ``sdpa`` for any call without sequence boundaries (evaluation, generation).
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

import torch

NAME = "packed_varlen"


def varlen_kernel_available() -> bool:
    """Whether this torch has ``torch.nn.attention.varlen`` (torch >= 2.9)."""
    return importlib.util.find_spec("torch.nn.attention.varlen") is not None


def _causal_kwargs(varlen_attn: Any) -> dict[str, Any]:
    """Causal masking as this torch's ``varlen_attn`` spells it (``is_causal``, later a window)."""
    parameters = inspect.signature(varlen_attn).parameters
    return {"is_causal": True} if "is_causal" in parameters else {"window_size": (-1, 0)}


def flash_per_sequence(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, boundaries: torch.Tensor, longest: int, scale: float | None
) -> torch.Tensor:
    """Causal attention within each sequence of ``[tokens, heads, dim]`` inputs bounded by ``boundaries``, by
    PyTorch's variable-length FlashAttention; returns ``[tokens, heads, dim]`` in half precision."""
    from torch.nn.attention.varlen import varlen_attn

    # FlashAttention takes half precision only; under kbit training rotary embeddings leave float32 here
    half = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else torch.bfloat16
    halves = (t.to(half) for t in (q, k, v))
    return varlen_attn(*halves, boundaries, boundaries, longest, longest, scale=scale, **_causal_kwargs(varlen_attn))


def attention_output_dtype(query: torch.Tensor) -> torch.dtype:
    """The dtype o_proj gets from transformers' sdpa and flash-attention paths: autocast's under autocast
    (kbit training's float32 rotary output notwithstanding), else the query's. A float32 output would keep
    o_proj's LoRA update from bf16 rounding that every other path applies, and change its dropout draws."""
    device = query.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else query.dtype


def packed_varlen_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: ``query`` ``[1, heads, tokens, dim]``, ``key`` and
    ``value`` ``[1, kv_heads, tokens, dim]``; returns ``[1, tokens, heads, dim]``. The kernel is
    :func:`flash_per_sequence`."""
    boundaries = kwargs.get("cu_seq_lens_q")
    if boundaries is None or query.shape[0] != 1 or dropout:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # [tokens, heads, dim]
    if k.shape[1] != q.shape[1]:  # grouped-query attention: one key/value head per group of query heads
        k, v = (t.repeat_interleave(q.shape[1] // t.shape[1], dim=1) for t in (k, v))
    out = flash_per_sequence(q, k, v, boundaries, int(kwargs["max_length_q"]), scaling)
    return out.to(attention_output_dtype(query))[None], None


def use_packed_varlen_attention(model: Any) -> None:
    """Register :func:`packed_varlen_attention` with transformers and switch ``model`` to it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, packed_varlen_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)  # what the sdpa fallback needs; varlen ignores it
    model.set_attn_implementation(NAME)
