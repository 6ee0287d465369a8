"""The embedded model's GGUF is found inside its package, or the message says how to get it."""

from __future__ import annotations

import pytest

from ll_hallucination_pipeline.models import gguf_conversion
from ll_hallucination_pipeline.utils.errors import PipelineInputError


def test_the_embedded_gguf_ships_in_its_package():
    path = gguf_conversion.embedded_gguf_path()
    assert path.name == gguf_conversion.EMBEDDED_GGUF and path.read_bytes()[:4] == b"GGUF"


def test_a_missing_package_names_the_fix(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(PipelineInputError, match="is not installed; run `uv sync`, or set MODEL_PATH"):
        gguf_conversion.embedded_gguf_path()
