"""The CPU scoring path's LoRA layers: the same outputs as peft's, the update unmerged."""

import copy

import pytest
import torch

from ll_hallucination_pipeline.lora_inference import LoraAddmmLinear, fuse_lora_linears


def _tiny_lora_model(use_dora: bool = False):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
    )
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, use_dora=use_dora)
    return get_peft_model(LlamaForCausalLM(config), lora).eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_layers_score_as_peft_does(dtype):
    peft_model = _tiny_lora_model().to(dtype)
    fused = copy.deepcopy(peft_model)
    assert fuse_lora_linears(fused) == 2 * 7  # q, k, v, o, gate, up, down in each layer
    assert sum(isinstance(m, LoraAddmmLinear) for m in fused.modules()) == 14
    ids = torch.randint(0, 128, (3, 11))
    with torch.inference_mode():
        expected, got = peft_model(ids).logits.float(), fused(ids).logits.float()
        with peft_model.disable_adapter():
            without_update = peft_model(ids).logits.float()
    tolerance = 1e-5 if dtype == torch.float32 else 0.05
    assert torch.allclose(got, expected, atol=tolerance)
    assert (expected - without_update).abs().max() > 10 * tolerance  # the update is there to be kept


def test_layers_peft_computes_otherwise_are_left_to_peft():
    dora = _tiny_lora_model(use_dora=True)
    assert fuse_lora_linears(dora) == 0
    merged = _tiny_lora_model()
    merged.merge_adapter()
    assert fuse_lora_linears(merged) == 0
