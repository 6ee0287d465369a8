"""A script's block logs into its rule's log file, and an error is logged there before it propagates."""

from __future__ import annotations

import logging

import pytest

from ll_hallucination_pipeline.workflow.snakemake_glue import logged


@pytest.fixture(autouse=True)
def root_logging_restored():
    """``logged`` points the root logger at its file, as a job's process wants; give later tests theirs back."""
    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:], logging.root.level = handlers, level


def test_output_and_logging_go_to_the_log_file(tmp_path):
    log = tmp_path / "logs" / "rule.log"
    with logged(log, config={}):
        print("printed")
        logging.getLogger("x").info("logged")
    text = log.read_text()
    assert "printed" in text and "INFO x: logged" in text


def test_an_error_is_written_to_the_log_and_raised(tmp_path):
    log = tmp_path / "rule.log"
    with pytest.raises(ValueError, match="bad"), logged(log, config={}):
        raise ValueError("bad")
    assert "ERROR: bad" in log.read_text()
