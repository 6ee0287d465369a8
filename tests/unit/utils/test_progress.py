"""Progress reports: at most every few seconds, with the share done, the rate and the time left, and the end."""

from __future__ import annotations

import logging

from ll_hallucination_pipeline.utils.progress import Progress


def test_progress_is_reported_at_its_interval_and_at_the_end(caplog, monkeypatch):
    clock = iter([0.0, 1.0, 12.0, 13.0, 30.0])
    monkeypatch.setattr("ll_hallucination_pipeline.utils.progress.time.perf_counter", lambda: next(clock))
    caplog.set_level(logging.INFO)
    progress = Progress("scoring", 400, "requests")  # starts at 0 s
    progress.update(10, 1_000)  # 1 s: too soon
    progress.update(100, 12_000)  # 12 s
    progress.update(150, 13_000)  # 13 s: too soon
    progress.update(400, 30_000)  # 30 s: the end
    first, last = [r.getMessage() for r in caplog.records]
    assert first == "scoring: 100/400 requests (25%), 1,000 tokens/s, 12 s so far, ~36 s left"
    assert last == "scoring: 400/400 requests (100%), 1,000 tokens/s, 30 s so far"


def test_work_shorter_than_the_interval_says_nothing(caplog):
    caplog.set_level(logging.INFO)
    progress = Progress("generating", 3, "answers")
    progress.update(3, 50)
    assert caplog.records == []
