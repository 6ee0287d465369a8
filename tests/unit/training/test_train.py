"""Resuming training: the newest checkpoint that is whole, a damaged one skipped and said in the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ll_hallucination_pipeline.training.train import continue_token_count, last_usable_checkpoint, mean_step_loss


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


def log(*steps_tokens):
    """A training log (the trainer's history) with the given (step, cumulative tokens), then its summary."""
    return [{"step": s, "loss": 1.0, "num_tokens": n} for s, n in steps_tokens] + [{"step": 4, "train_loss": 1.0}]


def test_resumed_count_goes_on_from_the_checkpoint():
    history, before = continue_token_count(log((1, 10), (2, 25), (3, 12), (4, 20)), resumed_from=2)
    assert before == 25
    assert [e.get("num_tokens") for e in history] == [10, 25, 37, 45, None]


def test_uninterrupted_or_already_continued_counts_are_kept():
    for history, resumed_from in ((log((1, 10), (2, 25)), 0), (log((1, 10), (2, 25), (3, 37)), 2)):
        kept, _ = continue_token_count(history, resumed_from)
        assert kept == history


def test_mean_loss_takes_every_logged_step_and_not_the_summary():
    steps = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.0}]
    history = [*steps, {"step": 3, "train_loss": 1.5}]
    assert mean_step_loss(history) == 2.0
    assert mean_step_loss([{"step": 0, "train_loss": 0.0}]) is None
