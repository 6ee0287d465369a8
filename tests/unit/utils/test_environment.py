"""The environment snapshot says plainly what the machine has; torch jobs declare a bounded number of threads."""

from __future__ import annotations

from ll_hallucination_pipeline.utils.environment import (
    MAX_TORCH_THREADS,
    PACKAGES,
    package_versions,
    torch_job_threads,
    write_environment_snapshot,
)


def test_threads_are_bounded_by_the_machine_and_the_cap(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert torch_job_threads() == MAX_TORCH_THREADS
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert torch_job_threads() == 2


def test_versions_name_every_package_that_decides_the_numbers():
    versions = package_versions()
    assert list(versions) == list(PACKAGES) and versions["lm-eval"] != "not installed"


def test_snapshot_without_a_gpu_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    write_environment_snapshot(tmp_path / "smi.txt", tmp_path / "torch.txt")
    assert (tmp_path / "smi.txt").read_text().startswith("No NVIDIA GPU: nvidia-smi is not installed")
    torch_env = (tmp_path / "torch.txt").read_text()
    assert "python: " in torch_env and "trl: " in torch_env
