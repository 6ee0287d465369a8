"""Each logged training step is stamped with the seconds since training began."""

from __future__ import annotations

from types import SimpleNamespace

from ll_hallucination_pipeline.training.step_clock import StepClock


def test_each_log_entry_gets_the_elapsed_seconds(monkeypatch):
    now = iter([10.0, 12.5, 15.0])
    monkeypatch.setattr("time.perf_counter", lambda: next(now))
    clock = StepClock("elapsed")
    state = SimpleNamespace(log_history=[{"loss": 1.0}])
    clock.on_train_begin(None, state, None)
    clock.on_log(None, state, None)
    assert state.log_history[-1]["elapsed"] == 2.5
