"""The base model's weights are hashed once into a record; readers trust it only while the files are unchanged."""

import json
import os

from ll_hallucination_pipeline.models.weights_hash import (
    provenance_sha256,
    recorded_weights_sha256,
    weights_sha256,
    write_weights_record,
)


def make_checkpoint(directory, payload: bytes):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.safetensors").write_bytes(payload)
    (directory / "config.json").write_text("{}")
    return directory


def test_record_is_read_back_without_rehashing(tmp_path, monkeypatch):
    model = make_checkpoint(tmp_path / "m", b"weights")
    record = tmp_path / "base_model.weights_sha256.json"
    written = write_weights_record(model, record)
    assert written["weights_sha256"] == weights_sha256(model)
    monkeypatch.setattr("ll_hallucination_pipeline.models.weights_hash.weights_sha256", lambda _: "rehashed")
    assert recorded_weights_sha256(model, record) == written["weights_sha256"]
    assert provenance_sha256(record) == written["weights_sha256"]


def test_changed_weights_or_another_model_are_hashed_again(tmp_path):
    model = make_checkpoint(tmp_path / "m", b"weights")
    record = tmp_path / "base_model.weights_sha256.json"
    old = write_weights_record(model, record)["weights_sha256"]
    other = make_checkpoint(tmp_path / "other", b"other weights")
    assert recorded_weights_sha256(other, record) == weights_sha256(other) != old
    (model / "model.safetensors").write_bytes(b"changed")
    os.utime(model / "model.safetensors", ns=(1, 1))
    assert recorded_weights_sha256(model, record) == weights_sha256(model) != old
    assert json.loads(record.read_text())["weights_sha256"] == old  # the record itself is the rule's output
