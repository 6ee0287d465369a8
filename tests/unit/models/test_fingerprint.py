import pytest
import torch
from safetensors.torch import save_file

from ll_hallucination_pipeline.models.fingerprint import model_fingerprint
from ll_hallucination_pipeline.models.quantization import QuantizationSettings


@pytest.fixture
def weights(tmp_path):
    def make(name: str, value: float):
        directory = tmp_path / name
        directory.mkdir()
        save_file({"w": torch.full((4,), value)}, directory / "model.safetensors")
        (directory / "config.json").write_text("{}")
        return directory

    return make


def test_fingerprint_changes_with_weights_adapter_quantization_and_device(weights):
    nf4 = QuantizationSettings()
    a, b = weights("a", 1.0), weights("b", 2.0)
    same_as_a = weights("a_copy", 1.0)
    adapter = weights("adapter", 3.0)
    base = model_fingerprint(a, nf4, device="cpu")
    assert base == model_fingerprint(same_as_a, nf4, device="cpu")  # identity is content, not path
    others = {
        model_fingerprint(b, nf4, device="cpu"),
        model_fingerprint(a, nf4, adapter, device="cpu"),
        model_fingerprint(a, QuantizationSettings(mode="none"), device="cpu"),
        model_fingerprint(a, QuantizationSettings(compute_dtype="float32"), device="cpu"),
        model_fingerprint(a, nf4, device="cuda"),
    }
    assert base not in others and len(others) == 5
