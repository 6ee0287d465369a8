"""Attention for inference on the CPU: transformers' ``sdpa`` attention without its copies of grouped key/value
heads, registered with transformers as ``sdpa_grouped`` (:func:`use_grouped_query_sdpa`). On a GPU, PyTorch's
fused kernels take no mask with ``enable_gqa``, so it stays ``sdpa`` there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

GROUPED_SDPA = "sdpa_grouped"


def grouped_query_sdpa(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' ``sdpa`` attention, except where several query tokens run under a mask (the scorer's and
    the prefill's forwards): there PyTorch's kernel reads each key/value head for its group of query heads
    (``enable_gqa``), where transformers would first copy every key and value once per query head
    (``repeat_kv``). The same arithmetic on the same numbers, without the copies."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = not dropout and kwargs.get("position_bias") is None and kwargs.get("softcap") is None
    if attention_mask is None or query.shape[2] == 1 or getattr(module, "num_key_value_groups", 1) == 1 or not plain:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, scale=scaling, enable_gqa=True
    )
    return out.transpose(1, 2).contiguous(), None


def use_grouped_query_sdpa(model: torch.nn.Module) -> bool:
    """Switch a model that runs transformers' ``sdpa`` attention to :func:`grouped_query_sdpa` (registered with
    transformers once). Returns whether it switched."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if model.config._attn_implementation != "sdpa":
        return False
    AttentionInterface.register(GROUPED_SDPA, grouped_query_sdpa)
    AttentionMaskInterface.register(GROUPED_SDPA, sdpa_mask)
    model.set_attn_implementation(GROUPED_SDPA)
    return True
