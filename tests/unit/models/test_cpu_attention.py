"""CPU attention: grouped key/value heads read without copies."""

import pytest
import torch

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
    hidden = torch.ones(9, 9, dtype=torch.bool).tril().logical_not()
    hidden[5:, 3:5] = True  # a tree: the last tokens do not see two before them
    mask = torch.zeros(3, 1, 9, 9, dtype=dtype).masked_fill_(hidden, torch.finfo(dtype).min)
    with torch.inference_mode():
        expected = model(ids, attention_mask=mask).logits
        assert use_grouped_query_sdpa(model)
        got = model(ids, attention_mask=mask).logits
    assert model.config._attn_implementation == "sdpa_grouped"
    assert torch.equal(got, expected)
