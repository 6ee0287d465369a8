import pytest
import torch

from ll_hallucination_pipeline.models.quantization import (
    QuantizationSettings,
    get_quantization_config,
    quantization_from_config,
    quantization_from_model_args,
)
from ll_hallucination_pipeline.utils.errors import PipelineInputError

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
