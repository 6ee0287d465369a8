"""Snapshot of the machine: ``nvidia-smi`` and the Python/torch stack, saying plainly when there is no GPU."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .io import atomic_write_text

PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets", "lm-eval", "trl", "snakemake")
MAX_TORCH_THREADS = 8


def torch_job_threads() -> int:
    """Threads a torch job (smoke test, evaluation, training) declares: up to 8, never more than this machine has.

    Snakemake sets OMP_NUM_THREADS to a job's declared threads (1 when a rule declares none) and caps them at
    --cores; on SLURM each such job asks for this many CPUs.
    """
    return min(MAX_TORCH_THREADS, os.cpu_count() or 1)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide the numbers."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def nvidia_smi_report() -> str:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "No NVIDIA GPU: nvidia-smi is not installed on this machine; the pipeline runs on the CPU.\n"
    done = subprocess.run([exe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"No usable NVIDIA GPU: nvidia-smi exited {done.returncode}.\n{done.stdout}{done.stderr}"
    return done.stdout


def torch_report() -> str:
    import torch

    lines = [
        f"host: {platform.node()}",
        f"python: {sys.version.split()[0]} ({platform.platform()})",
        f"cpu threads (torch): {torch.get_num_threads()}",
        f"CUDA_VISIBLE_DEVICES: {os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}",
        f"cuda available: {torch.cuda.is_available()}",
        f"torch cuda build: {torch.version.cuda or 'none (CPU build)'}",
    ]
    if torch.cuda.is_available():
        lines += [f"gpu {i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    else:
        lines.append("gpu: none; models load and run on the CPU")
    lines += [f"{name}: {version}" for name, version in package_versions().items()]
    return "\n".join(lines) + "\n"


def write_environment_snapshot(nvidia_smi_file: str | Path, torch_env_file: str | Path) -> None:
    atomic_write_text(nvidia_smi_file, nvidia_smi_report())
    atomic_write_text(torch_env_file, torch_report())
