"""Adapters are checked against the base model: complete, trained on it, LoRA shapes that fit its layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ll_hallucination_pipeline.models.adapters import check_adapter_dir
from ll_hallucination_pipeline.utils.errors import PipelineInputError

Q = "model.layers.0.self_attn.q_proj"


def base_model(directory: Path, out_features: int = 8, in_features: int = 6) -> Path:
    directory.mkdir(parents=True)
    save_file({f"{Q}.weight": torch.zeros(out_features, in_features)}, directory / "model.safetensors")
    (directory / "config.json").write_text("{}")
    return directory


def adapter(directory: Path, module: str = Q, a: tuple[int, int] = (2, 6), b: tuple[int, int] = (8, 2)) -> Path:
    directory.mkdir(parents=True)
    tensors = {
        f"base_model.model.{module}.lora_A.weight": torch.zeros(a),
        f"base_model.model.{module}.lora_B.weight": torch.zeros(b),
    }
    save_file(tensors, directory / "adapter_model.safetensors")
    (directory / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/other-model"}))
    return directory


def test_an_adapter_that_fits_is_accepted_and_a_different_base_name_is_said(tmp_path, caplog):
    assert check_adapter_dir(adapter(tmp_path / "a"), base_model(tmp_path / "m")) == {}
    assert "names org/other-model as its base" in caplog.text


def test_an_adapter_naming_the_configured_base_is_accepted_silently(tmp_path, caplog):
    assert check_adapter_dir(adapter(tmp_path / "a"), base_model(tmp_path / "other-model")) == {}
    assert "as its base" not in caplog.text


def test_an_adapter_for_another_shape_names_the_module_and_its_model(tmp_path):
    with pytest.raises(PipelineInputError) as info:
        check_adapter_dir(adapter(tmp_path / "a", a=(2, 5)), base_model(tmp_path / "m"))
    message = str(info.value)
    assert f"does not fit the base model {tmp_path / 'm'}: {Q} is 8x6 there, the adapter's lora_A is 2x5" in message
    assert "it was trained for org/other-model: set MODEL_PATH/model.path" in message and "\n" not in message


def test_an_adapter_for_modules_the_base_lacks_is_refused(tmp_path):
    with pytest.raises(PipelineInputError, match="targets model.layers.0.mlp.x_proj, which the base model"):
        check_adapter_dir(adapter(tmp_path / "a", module="model.layers.0.mlp.x_proj"), base_model(tmp_path / "m"))


def test_incomplete_adapter(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(PipelineInputError, match="is incomplete \\(missing adapter_config.json"):
        check_adapter_dir(tmp_path / "a", base_model(tmp_path / "m"))


def test_target_modules_are_written_in_one_order(tmp_path):
    from ll_hallucination_pipeline.models.adapters import sort_target_modules

    directory = adapter(tmp_path / "a")
    (directory / "adapter_config.json").write_text(json.dumps({"target_modules": ["v_proj", "k_proj", "q_proj"]}))
    sort_target_modules(directory)
    assert json.loads((directory / "adapter_config.json").read_text())["target_modules"] == [
        "k_proj",
        "q_proj",
        "v_proj",
    ]
    (directory / "adapter_config.json").write_text(json.dumps({"target_modules": "all-linear"}))
    sort_target_modules(directory)
    assert json.loads((directory / "adapter_config.json").read_text())["target_modules"] == "all-linear"


def test_lora_adapter_path_is_checked_against_an_existing_base_before_any_job(tmp_path, monkeypatch):
    from ll_hallucination_pipeline.models.adapters import external_adapter

    monkeypatch.setenv("LORA_ADAPTER_PATH", str(adapter(tmp_path / "a", a=(2, 5))))
    with pytest.raises(PipelineInputError, match="does not fit the base model"):
        external_adapter(base_model(tmp_path / "m"))
    assert external_adapter(tmp_path / "not-converted-yet").name == "external-a"  # checked again in its job


def test_a_foreign_base_name_is_said_only_for_adapters_without_our_manifest(tmp_path):
    from ll_hallucination_pipeline.models.adapters import MANIFEST_NAME, named_other_base

    found = adapter(tmp_path / "a")
    said = named_other_base(found, tmp_path / "m")
    assert said.startswith(f"adapter {found} names org/other-model as its base") and str(tmp_path / "m") in said
    (found / MANIFEST_NAME).write_text("{}")
    assert named_other_base(found, tmp_path / "m") is None
