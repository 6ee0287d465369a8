"""One decode step's attention on this CPU at the embedded model's shapes, each way it could be computed: PyTorch's
``scaled_dot_product_attention`` over every row's own copy of the keys and values (what a decode step runs now),
and shared-prefix attention (the prompt's shared opening read once for all rows, each row's own columns apart,
the two softmax parts joined), with the part over the rows' own columns alone beside it.

Figure in bench/RESULTS.md, CPU: 'a decode step's attention, each way'.

Usage: uv run python bench/cpu_decode_attention.py [ROWS [SHARED [OWN]]]   (default 256 190 60: truthfulqa_gen's
primer and a question with some answer tokens). Prints one JSON record of milliseconds a call (one layer).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import torch
from common import CONVERTED_MODEL, machine
from transformers import AutoConfig

from ll_hallucination_pipeline.utils.devices import native_cpu_dtype


def milliseconds(step: Callable[[], torch.Tensor], repeats: int = 20) -> float:
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return round((time.perf_counter() - start) / repeats * 1000, 2)


def main(rows: int = 256, shared: int = 190, own: int = 60) -> None:
    config = AutoConfig.from_pretrained(CONVERTED_MODEL)
    kv_heads, dim = config.num_key_value_heads, config.hidden_size // config.num_attention_heads
    group = config.num_attention_heads // kv_heads
    dtype = getattr(torch, native_cpu_dtype())
    torch.manual_seed(0)
    # One query token a row, packed by key/value head as transformers does for a decode step.
    query = torch.randn(rows, kv_heads, group, dim, dtype=dtype) * dim**-0.5
    keys, values = (torch.randn(rows, kv_heads, shared + own, dim, dtype=dtype) for _ in range(2))
    keys[:, :, :shared], values[:, :, :shared] = keys[:1, :, :shared], values[:1, :, :shared]  # one opening
    mask = torch.zeros(rows, 1, 1, shared + own, dtype=dtype)
    prefix_keys, prefix_values = keys[0, :, :shared], values[0, :, :shared]
    own_keys, own_values, own_mask = keys[:, :, shared:], values[:, :, shared:], mask[..., shared:]

    def per_row() -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(query, keys, values, attn_mask=mask, scale=1.0)

    def shared_prefix() -> torch.Tensor:
        scores = torch.cat(
            [torch.einsum("rhgd,hpd->rhgp", query, prefix_keys), query @ own_keys.transpose(-1, -2) + own_mask], -1
        )
        weights = scores.float().softmax(-1).to(dtype)
        return torch.einsum("rhgp,hpd->rhgd", weights[..., :shared], prefix_values) + weights[..., shared:] @ own_values

    def own_columns_only() -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(query, own_keys, own_values, attn_mask=own_mask)

    difference = (per_row().float() - shared_prefix().float()).abs().max().item()
    record = {
        **machine(),
        "dtype": str(dtype),
        "rows": rows,
        "shared_columns": shared,
        "own_columns": own,
        "per_row_sdpa_ms": milliseconds(per_row),
        "shared_prefix_ms": milliseconds(shared_prefix),
        "own_columns_sdpa_ms": milliseconds(own_columns_only),
        "largest_difference": round(difference, 4),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
