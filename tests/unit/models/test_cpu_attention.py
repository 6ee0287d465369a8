"""CPU attention: grouped key/value heads read without copies."""

import pytest
import torch

from ll_hallucination_pipeline.inference.forward_layout import tree_mask
from ll_hallucination_pipeline.models.cpu_attention import use_grouped_query_sdpa


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_grouped_heads_score_exactly_as_transformers_sdpa_under_a_mask(dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(dtype).eval()
    ids = torch.randint(0, 128, (3, 9))
    # The scorer's tree: a context, then two continuations that do not see each other.
    mask = tree_mask(torch.tensor([[0, 0, 0, 0, 0, 1, 1, 2, 2]] * 3), 0, dtype)
    with torch.inference_mode():
        expected = model(ids, attention_mask=mask).logits
        assert use_grouped_query_sdpa(model)
        got = model(ids, attention_mask=mask).logits
    assert model.config._attn_implementation == "sdpa_grouped"
    assert torch.equal(got, expected)
