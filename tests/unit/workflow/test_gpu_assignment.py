"""Each local GPU job gets a GPU of its own: claims, waits, release on kill, devices given by a scheduler."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from ll_hallucination_pipeline.workflow.gpu_assignment import VISIBLE_DEVICES, assign_gpus, claim_gpus


def test_concurrent_claims_get_different_devices_until_none_is_free(tmp_path):
    first = claim_gpus(1, ["0", "1"], tmp_path)
    second = claim_gpus(1, ["0", "1"], tmp_path)
    assert (first.devices, second.devices) == (("0",), ("1",))
    with pytest.raises(TimeoutError):
        claim_gpus(1, ["0", "1"], tmp_path, wait_seconds=0, say=lambda _: None)
    first.release()
    assert claim_gpus(1, ["0", "1"], tmp_path).devices == ("0",)


def test_a_waiting_job_says_so_once(tmp_path):
    held = claim_gpus(1, ["0"], tmp_path)
    said: list[str] = []
    with pytest.raises(TimeoutError):
        claim_gpus(1, ["0"], tmp_path, wait_seconds=2.5, say=said.append)
    assert len(said) == 1 and "held by other jobs" in said[0]
    held.release()


def test_a_killed_job_leaks_no_device(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from ll_hallucination_pipeline.workflow.gpu_assignment import claim_gpus;"
            f"c = claim_gpus(1, ['0'], Path({str(tmp_path)!r})); print(c.devices[0], flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "0"
    with pytest.raises(TimeoutError):
        claim_gpus(1, ["0"], tmp_path, wait_seconds=0, say=lambda _: None)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert claim_gpus(1, ["0"], tmp_path, wait_seconds=0).devices == ("0",)


def test_detected_gpus_are_claimed_and_made_the_only_visible_ones(tmp_path):
    environ = {"LLHP_GPU_LOCK_DIR": str(tmp_path)}
    other = claim_gpus(1, ["0", "1", "2"], tmp_path)
    claim = assign_gpus(1, environ, detect=lambda: ["0", "1", "2"])
    assert claim.devices == ("1",) and claim.how == "claimed" and environ[VISIBLE_DEVICES] == "1"
    other.release()


def test_devices_a_scheduler_gave_are_used_as_given(tmp_path):
    environ = {VISIBLE_DEVICES: "3", "SLURM_JOB_ID": "42", "LLHP_GPU_LOCK_DIR": str(tmp_path)}
    claim = assign_gpus(1, environ, detect=lambda: pytest.fail("must not look for GPUs"))
    assert claim.devices == ("3",) and claim.how == "given" and environ[VISIBLE_DEVICES] == "3"
    assert not list(tmp_path.iterdir())  # nothing locked


def test_a_user_listed_pool_is_shared_out(tmp_path):
    environ = {VISIBLE_DEVICES: "2,5", "LLHP_GPU_LOCK_DIR": str(tmp_path)}
    first = assign_gpus(1, environ)
    second = assign_gpus(1, {**environ, VISIBLE_DEVICES: "2,5"})
    assert (first.devices, second.devices) == (("2",), ("5",))
    assert environ[VISIBLE_DEVICES] == "2"


def test_no_gpu_or_no_request_changes_nothing(tmp_path):
    environ = {"LLHP_GPU_LOCK_DIR": str(tmp_path)}
    assert assign_gpus(1, environ, detect=list).how == "none"
    assert assign_gpus(0, environ, detect=lambda: ["0"]).how == "none"
    assert VISIBLE_DEVICES not in environ
