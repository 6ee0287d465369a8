"""A GPU rule run by Snakemake takes a free GPU of its own (here two fake GPUs, GPU 0 held by another job)."""

from __future__ import annotations

import os
from pathlib import Path

from ll_hallucination_pipeline.workflow.gpu_assignment import claim_gpus
from tests.helpers import run_snakemake, write_config

FAKE_NVIDIA_SMI = """#!/bin/sh
if [ "$1" = "-L" ]; then
  echo "GPU 0: Fake H200 (UUID: GPU-0)"
  echo "GPU 1: Fake H200 (UUID: GPU-1)"
else
  echo "fake nvidia-smi"
fi
"""


def test_gpu_job_takes_the_free_gpu(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    locks = tmp_path / "locks"
    held = claim_gpus(1, ["0", "1"], locks)  # another job holds GPU 0
    write_config(tmp_path / "work")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "LLHP_GPU_LOCK_DIR": str(locks)}
    done = run_snakemake(tmp_path / "work", "docs/torch_env.txt", "--cores", "1", "--resources", "gpu=2", env=env)
    held.release()
    assert done.returncode == 0, done.stdout[-3000:]
    assert "CUDA_VISIBLE_DEVICES: 1" in (tmp_path / "work/docs/torch_env.txt").read_text()
    log = (tmp_path / "work/logs/snapshot_environment.log").read_text()
    assert "GPU job: CUDA_VISIBLE_DEVICES=1 (claimed)" in log
