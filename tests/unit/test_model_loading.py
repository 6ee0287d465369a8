"""Loading the 4-bit base model with an adapter: trainable for training, fused and dequantized for CPU scoring."""

from __future__ import annotations

import torch

from ll_hallucination_pipeline.inference_layers import LoraAddmmLinear


def test_an_adapter_loads_trainable_or_for_scoring(tiny_nf4_model, tmp_path):
    from peft import LoraConfig, get_peft_model

    load = tiny_nf4_model("float32")
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM", init_lora_weights=False)
    get_peft_model(load(), lora).save_pretrained(tmp_path / "adapter")

    trainable = load(adapter_dir=tmp_path / "adapter", trainable_adapter=True)
    assert any(p.requires_grad for name, p in trainable.named_parameters() if "lora_" in name)
    scoring = load(adapter_dir=tmp_path / "adapter", for_inference=True)
    assert sum(isinstance(m, LoraAddmmLinear) for m in scoring.modules()) == 2 * 2  # q and v in two layers
    ids = torch.randint(0, 128, (1, 6))
    with torch.inference_mode():  # the adapter is applied (its layers' numbers: test_inference_layers.py)
        assert not torch.allclose(scoring(ids).logits, load(for_inference=True)(ids).logits, atol=1e-3)
