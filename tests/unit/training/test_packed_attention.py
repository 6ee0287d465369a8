"""Attention per packed sequence: the same numbers as one dense block-diagonal causal mask."""

import pytest
import torch

from ll_hallucination_pipeline.training.packed_attention import packed_varlen_attention
from tests.helpers import per_sequence_attention

varlen = pytest.importorskip("torch.nn.attention.varlen")


def test_packed_sequences_attend_only_to_themselves(monkeypatch):
    monkeypatch.setattr(varlen, "varlen_attn", per_sequence_attention)
    lengths, heads, kv_heads, dim = [5, 9, 3], 8, 2, 16
    tokens = sum(lengths)
    torch.manual_seed(0)
    query = torch.randn(1, heads, tokens, dim)
    key, value = torch.randn(1, kv_heads, tokens, dim), torch.randn(1, kv_heads, tokens, dim)
    boundaries = torch.tensor([0, 5, 14, 17], dtype=torch.int32)
    got, _ = packed_varlen_attention(
        torch.nn.Module(), query, key, value, None, scaling=0.25, cu_seq_lens_q=boundaries, max_length_q=9
    )
    sequence = torch.repeat_interleave(torch.arange(3), torch.tensor(lengths))
    allowed = (sequence[:, None] == sequence[None, :]) & torch.ones(tokens, tokens, dtype=torch.bool).tril()
    expected = torch.nn.functional.scaled_dot_product_attention(
        query, key.repeat_interleave(4, dim=1), value.repeat_interleave(4, dim=1), attn_mask=allowed, scale=0.25
    ).transpose(1, 2)
    assert got.shape == (1, tokens, heads, dim) and got.dtype == query.dtype
    # computed in bf16 (FlashAttention's precision), compared in float32; a wrong sequence is off by O(1)
    assert torch.allclose(got, expected, atol=3e-2)
    assert not torch.allclose(got[0, 5:14], expected[0, 5:14].roll(1, dims=0), atol=0.1)


def test_output_dtype_is_what_sdpa_gives_o_proj_under_autocast(monkeypatch):
    """kbit training hands attention float32 queries; under autocast transformers' sdpa path gives o_proj
    autocast's dtype, so the per-sequence path must too (else o_proj's LoRA trains unlike plain trl's)."""
    monkeypatch.setattr(varlen, "varlen_attn", per_sequence_attention)
    query, key, value = (torch.randn(1, 2, 6, 8) for _ in range(3))
    boundaries = torch.tensor([0, 2, 6], dtype=torch.int32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        packed, _ = packed_varlen_attention(
            torch.nn.Module(), query, key, value, None, cu_seq_lens_q=boundaries, max_length_q=4
        )
        dense, _ = packed_varlen_attention(torch.nn.Module(), query, key, value, None, is_causal=True)
    assert dense.dtype == torch.bfloat16 and packed.dtype == dense.dtype
