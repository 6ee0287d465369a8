"""The device a job computes on, and the CPU's native matmul dtype."""

from __future__ import annotations

import pytest
import torch

from ll_hallucination_pipeline.utils.devices import best_device, native_cpu_dtype


def test_best_device_is_the_cpu_without_a_usable_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert best_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)

    def broken(index):  # a GPU announced (e.g. a fake SLURM GPU) that cannot be used
        raise RuntimeError("no CUDA driver")

    monkeypatch.setattr(torch.cuda, "get_device_properties", broken)
    assert best_device() == "cpu"


@pytest.mark.parametrize(("bf16_units", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_native_cpu_dtype_follows_the_bf16_units(monkeypatch, bf16_units, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16_units)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert native_cpu_dtype() == expected
