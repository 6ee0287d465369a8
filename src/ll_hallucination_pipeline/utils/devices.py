"""What this machine computes on: the best torch device, the CPU's native matmul dtype, its free memory."""

from __future__ import annotations


def native_cpu_dtype() -> str:
    """``"bfloat16"`` where this CPU multiplies bf16 natively (AVX512-BF16 or AMX), else ``"float32"``.

    Without such units bf16 matmuls are emulated and run several times slower than float32.
    """
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return "bfloat16" if native else "float32"


def best_device() -> str:
    """``"cuda"`` when a usable GPU is present, else ``"cpu"`` (also under a fake SLURM GPU)."""
    import torch

    try:
        if torch.cuda.is_available() and torch.cuda.device_count() > 0:
            torch.cuda.get_device_properties(0)
            return "cuda"
    except (RuntimeError, AssertionError):
        pass
    return "cpu"


def free_cpu_memory() -> int | None:
    """Bytes of memory free on this machine now (Linux and WSL), or ``None`` where the system does not say."""
    import os

    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
