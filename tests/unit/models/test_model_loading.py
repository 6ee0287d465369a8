"""Loading the 4-bit base model with an adapter: trainable for training, fused and dequantized for CPU scoring."""

from __future__ import annotations

import pytest
import torch

from ll_hallucination_pipeline.models.inference_layers import LoraAddmmLinear


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


def test_an_unquantized_base_too_large_for_the_free_gpu_memory_stops_before_loading(tmp_path):
    import torch
    from safetensors.torch import save_file

    from ll_hallucination_pipeline.models.model_loading import check_unquantized_fits
    from ll_hallucination_pipeline.models.quantization import QuantizationSettings
    from ll_hallucination_pipeline.utils.errors import PipelineInputError

    save_file({"w": torch.zeros(1024, 1024, dtype=torch.float32)}, str(tmp_path / "model.safetensors"))
    bf16 = QuantizationSettings(mode="none", compute_dtype="bfloat16")  # 2 MiB of weights, 2.3 MiB with headroom
    check_unquantized_fits(tmp_path, bf16, free_bytes=3 * 2**20)
    with pytest.raises(PipelineInputError, match="needs about 0.0 GiB of GPU memory .* drop bf16 and merged"):
        check_unquantized_fits(tmp_path, bf16, free_bytes=2 * 2**20)
    check_unquantized_fits(tmp_path, QuantizationSettings(), free_bytes=0)  # NF4: the study's own path, unchecked
