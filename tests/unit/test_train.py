"""Resuming training: the newest checkpoint that is whole, a damaged one skipped and said in the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ll_hallucination_pipeline.train import last_usable_checkpoint


def checkpoint(work_dir: Path, step: int) -> Path:
    """A checkpoint directory with the files a resumption reads."""
    directory = work_dir / f"checkpoint-{step}"
    directory.mkdir(parents=True)
    (directory / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    save_file({"w": torch.ones(4)}, directory / "adapter_model.safetensors")
    torch.save({"state": 1}, directory / "optimizer.pt")
    return directory


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda d: (d / "trainer_state.json").write_text('{"global_'), "a file is unreadable"),
        (lambda d: (d / "optimizer.pt").write_bytes(b""), "optimizer.pt is empty or truncated"),
        (lambda d: (d / "adapter_model.safetensors").unlink(), "adapter_model.safetensors is missing"),
        (
            lambda d: (d / "adapter_model.safetensors").write_bytes(
                (d / "adapter_model.safetensors").read_bytes()[:-4]
            ),
            "is cut short",
        ),
    ],
)
def test_a_damaged_checkpoint_is_skipped_for_the_one_before(tmp_path, caplog, damage, problem):
    good, newest = checkpoint(tmp_path, 4), checkpoint(tmp_path, 8)
    assert last_usable_checkpoint(tmp_path) == str(newest)
    damage(newest)
    with caplog.at_level("WARNING"):
        assert last_usable_checkpoint(tmp_path) == str(good)
    assert f"skipping damaged checkpoint {newest}" in caplog.text and problem in caplog.text
