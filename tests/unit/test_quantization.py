import pytest
import torch

from ll_hallucination_pipeline.errors import PipelineInputError
from ll_hallucination_pipeline.model import (
    QuantizationSettings,
    get_quantization_config,
    quantization_from_config,
    quantization_from_model_args,
)

RUNBOOK = "load_in_4bit=True,bnb_4bit_quant_type=nf4,bnb_4bit_use_double_quant=True,bnb_4bit_compute_dtype=bfloat16"


def test_runbook_model_args_translate_to_nf4_double_quant_bf16():
    settings = quantization_from_model_args(RUNBOOK)
    assert settings == QuantizationSettings("nf4", True, "bfloat16")
    config = get_quantization_config(settings)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant is True
    assert config.bnb_4bit_compute_dtype == torch.bfloat16


def test_config_section_and_model_args_agree():
    from_section = quantization_from_config({"mode": "nf4", "double_quant": True, "compute_dtype": "bfloat16"})
    assert from_section == quantization_from_config({"model_args": RUNBOOK})


def test_cpu_compute_dtype_applies_only_on_cpu():
    settings = QuantizationSettings("nf4", True, "bfloat16", cpu_compute_dtype="float32")
    assert settings.for_device("cpu").compute_dtype == "float32"
    assert settings.for_device("cuda").compute_dtype == "bfloat16"


def test_no_quantization_gives_no_config():
    assert get_quantization_config(QuantizationSettings(mode="none")) is None
    assert get_quantization_config(QuantizationSettings(mode="int8")).load_in_8bit


@pytest.mark.parametrize(
    ("model_args", "message"),
    [
        ("load_in_4bit", "is not key=value"),
        ("pretrained=/x,load_in_4bit=True", "'pretrained' is not a quantization key"),
        ("load_in_4bit=True,bnb_4bit_quant_type=nf5", "quantization.mode='nf5' is unknown"),
    ],
)
def test_bad_model_args_name_the_fix(model_args, message):
    with pytest.raises(PipelineInputError, match=message):
        quantization_from_model_args(model_args)


@pytest.mark.parametrize(("bf16_units", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_auto_cpu_dtype_follows_the_cpus_bf16_units(monkeypatch, bf16_units, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16_units)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    auto = QuantizationSettings("nf4", True, "bfloat16", cpu_compute_dtype="auto")
    assert auto.for_device("cpu").compute_dtype == expected
    assert auto.for_device("cuda").compute_dtype == "bfloat16"


def _tiny_nf4_model(tmp_path, compute_dtype: str):
    from transformers import LlamaConfig, LlamaForCausalLM

    from ll_hallucination_pipeline.model import load_model

    config = LlamaConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny")
    settings = QuantizationSettings("nf4", True, compute_dtype)
    return lambda **kw: load_model(tmp_path / "tiny", settings, device="cpu", **kw)


def test_dequantized_linears_compute_what_bitsandbytes_dequantize_then_matmul_does(tmp_path):
    import bitsandbytes as bnb

    load = _tiny_nf4_model(tmp_path, "float32")
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


def test_dequantizing_after_a_forward_is_refused(tmp_path):
    from ll_hallucination_pipeline.model import dequantize_4bit_linears

    model = _tiny_nf4_model(tmp_path, "bfloat16")()
    with torch.inference_mode():
        model(torch.randint(0, 128, (2, 9)))  # repacks on CPUs with bf16 units
    if not torch.cpu._is_avx512_bf16_supported():
        pytest.skip("this CPU's bitsandbytes path does not repack 4-bit weights")
    with pytest.raises(RuntimeError, match="dequantize right after loading"):
        dequantize_4bit_linears(model)


def test_cast_unquantized_undoes_the_kbit_upcast_and_leaves_4bit_weights_alone(tmp_path):
    from peft import prepare_model_for_kbit_training

    from ll_hallucination_pipeline.model import cast_unquantized

    model = prepare_model_for_kbit_training(_tiny_nf4_model(tmp_path, "bfloat16")(), False)
    packed = {name: p.data.clone() for name, p in model.named_parameters() if p.dtype == torch.uint8}
    upcast = {name for name, p in model.named_parameters() if p.dtype == torch.float32}
    assert packed and {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"} <= upcast

    cast_unquantized(model, "bfloat16")
    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    assert all(dtypes[name] == torch.bfloat16 for name in upcast)
    assert all(torch.equal(p.data, packed[name]) for name, p in model.named_parameters() if name in packed)


def _lora_loss_and_gradients(model) -> tuple[torch.Tensor, list[torch.Tensor]]:
    ids = torch.randint(0, 128, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.detach(), [p.grad for name, p in model.named_parameters() if "lora_" in name]


def test_compact_tables_change_no_number_of_mixed_precision_training(tmp_path):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from ll_hallucination_pipeline.model import store_upcast_tables_compactly

    load = _tiny_nf4_model(tmp_path, "bfloat16")
    lora = LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM")
    results = []
    for compact in (False, True):
        model = prepare_model_for_kbit_training(load(), False)
        if compact:
            store_upcast_tables_compactly(model, "bfloat16")
            dtypes = {name: p.dtype for name, p in model.named_parameters()}
            assert dtypes["model.embed_tokens.weight"] == dtypes["lm_head.weight"] == torch.bfloat16
            assert dtypes["model.norm.weight"] == torch.float32
        torch.manual_seed(0)
        results.append(_lora_loss_and_gradients(get_peft_model(model, lora)))
    (loss, gradients), (compact_loss, compact_gradients) = results
    assert torch.equal(loss, compact_loss)
    assert gradients and all(g.abs().sum() > 0 for g in gradients[1::2])
    assert all(torch.equal(a, b) for a, b in zip(gradients, compact_gradients, strict=True))
