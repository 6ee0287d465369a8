"""Scoring layers: 4-bit weights dequantized once (CPU), LoRA layers with peft's outputs, the update unmerged."""

import copy

import pytest
import torch

from ll_hallucination_pipeline.models.inference_layers import LoraAddmmLinear, fuse_lora_linears


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
    assert fuse_lora_linears(fused, dtype) == 2 * 7  # q, k, v, o, gate, up, down in each layer
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
    assert fuse_lora_linears(dora, torch.float32) == 0
    merged = _tiny_lora_model()
    merged.merge_adapter()
    assert fuse_lora_linears(merged, torch.float32) == 0


def test_lora_over_4bit_weights_scores_as_peft_does(tiny_nf4_model):
    """The GPU's layout: bitsandbytes 4-bit bases kept, the update added in the compute dtype."""
    import bitsandbytes as bnb
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"], init_lora_weights=False)
    torch.manual_seed(0)
    peft_model = get_peft_model(tiny_nf4_model("float32")(), lora).eval()
    fused = copy.deepcopy(peft_model)
    assert fuse_lora_linears(fused, torch.float32) == 2 * 2
    assert all(isinstance(m.base, bnb.nn.Linear4bit) for m in fused.modules() if isinstance(m, LoraAddmmLinear))
    ids = torch.randint(0, 128, (2, 9))
    with torch.inference_mode():  # as the scorer runs
        expected, got = peft_model(ids).logits, fused(ids).logits
        with peft_model.disable_adapter():
            without_update = peft_model(ids).logits
    assert torch.allclose(got, expected, atol=1e-5)
    assert (expected - without_update).abs().max() > 1e-3


def test_dequantized_linears_compute_what_bitsandbytes_dequantize_then_matmul_does(tiny_nf4_model):
    import bitsandbytes as bnb

    load = tiny_nf4_model("float32")
    quantized, plain = load(), load(for_inference=True)
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in plain.modules())
    q_layer, p_layer = quantized.model.layers[1].mlp.down_proj, plain.model.layers[1].mlp.down_proj
    assert isinstance(q_layer, bnb.nn.Linear4bit) and type(p_layer) is torch.nn.Linear
    x = torch.randn(5, q_layer.in_features, requires_grad=True)
    # With a gradient-tracking input bitsandbytes dequantizes and multiplies (its CUDA path for > 1 token).
    assert torch.allclose(q_layer(x), p_layer(x), rtol=0, atol=1e-6)
    ids = torch.randint(0, 128, (2, 9))
    with torch.enable_grad():
        reference = quantized(ids).logits
    with torch.inference_mode():
        assert torch.allclose(plain(ids).logits, reference, atol=1e-5)


def test_dequantizing_after_a_forward_is_refused(tiny_nf4_model):
    from ll_hallucination_pipeline.models.inference_layers import dequantize_4bit_linears

    model = tiny_nf4_model("bfloat16")()
    with torch.inference_mode():
        model(torch.randint(0, 128, (2, 9)))  # repacks on CPUs with bf16 units
    if not torch.cpu._is_avx512_bf16_supported():
        pytest.skip("this CPU's bitsandbytes path does not repack 4-bit weights")
    with pytest.raises(RuntimeError, match="dequantize right after loading"):
        dequantize_4bit_linears(model)


def test_an_adapter_whose_update_is_zero_scores_exactly_as_its_base_on_the_cpu(tiny_nf4_model, tmp_path):
    """In bf16 too: casting the adapter to the compute dtype leaves the rotary frequencies in float32."""
    from peft import LoraConfig, get_peft_model

    load = tiny_nf4_model("bfloat16")
    get_peft_model(load(), LoraConfig(r=4, target_modules="all-linear")).save_pretrained(tmp_path / "zero")  # B = 0
    base, adapted = load(for_inference=True), load(for_inference=True, adapter_dir=tmp_path / "zero")
    ids = torch.randint(0, 128, (2, 64))
    with torch.inference_mode():
        assert torch.equal(adapted(ids).logits, base(ids).logits)
