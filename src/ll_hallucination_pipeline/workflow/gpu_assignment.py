"""A GPU of its own for each local GPU job.

Snakemake counts a ``gpu`` resource but assigns no devices to local jobs (snakemake issue #281): with
``--resources gpu=2`` two jobs would both see every GPU and both run on GPU 0. A GPU job therefore
claims free devices itself, before torch starts, and narrows ``CUDA_VISIBLE_DEVICES`` to them.

A claim is an exclusive ``flock`` on one lock file per device. The kernel drops it when the process
ends, however it ends (``kill -9`` included), so no slot is ever leaked.

Where a scheduler already gave the job its devices (SLURM sets ``CUDA_VISIBLE_DEVICES`` to exactly the
job's GPUs), or the user listed no more devices than the job needs, they are used as they are.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
LOCK_DIR_ENV = "LLHP_GPU_LOCK_DIR"
POLL_SECONDS = 2.0


@dataclass
class GpuClaim:
    """The devices a job runs on and how they were chosen; holds the device locks while it lives.

    devices: ids as ``CUDA_VISIBLE_DEVICES`` names them (empty: the job runs on the CPU).
    how: ``"claimed"`` (locked here), ``"given"`` (set by the scheduler or user) or ``"none"``.
    """

    devices: tuple[str, ...]
    how: str
    _locks: list[IO[bytes]] = field(default_factory=list, repr=False)

    def release(self) -> None:
        for handle in self._locks:
            handle.close()  # closing the descriptor drops its flock
        self._locks.clear()

    def describe(self) -> str:
        if self.how == "none":
            return "GPU job: no GPU on this machine; running on the CPU"
        return f"GPU job: {VISIBLE_DEVICES}={','.join(self.devices)} ({self.how})"


def detected_gpus() -> list[str]:
    """Indices of this machine's NVIDIA GPUs, from ``nvidia-smi -L`` (without starting CUDA); none if absent."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    done = subprocess.run([exe, "-L"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return []
    return [str(n) for n, line in enumerate(done.stdout.splitlines()) if line.startswith("GPU ")]


def default_lock_dir(environ: MutableMapping[str, str]) -> Path:
    """One lock directory per user and machine (per SLURM allocation inside one, whose ids are its own)."""
    if environ.get(LOCK_DIR_ENV):
        return Path(environ[LOCK_DIR_ENV])
    allocation = f"-slurm{environ['SLURM_JOB_ID']}" if environ.get("SLURM_JOB_ID") else ""
    return Path(tempfile.gettempdir()) / f"llhp-gpu-locks-{os.getuid()}{allocation}"


def _try_lock(lock_dir: Path, device: str) -> IO[bytes] | None:
    handle = open(lock_dir / f"gpu{device}.lock", "ab")  # noqa: SIM115 (held open for the job's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def claim_gpus(
    count: int,
    pool: Sequence[str],
    lock_dir: Path,
    *,
    wait_seconds: float | None = None,
    say: Callable[[str], None] = print,
) -> GpuClaim:
    """Lock ``count`` free devices of ``pool`` (in order), waiting while others hold them.

    ``wait_seconds=None`` waits as long as it takes (Snakemake starts a GPU job only when its ``gpu``
    resource is free, so a wait means another workflow holds the device); otherwise raise
    ``TimeoutError`` after that long. Says once, through ``say``, that it waits.
    """
    if count > len(pool):
        raise ValueError(f"a job needs {count} GPUs but only {len(pool)} are visible ({','.join(pool) or 'none'})")
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    waited = False
    while True:
        held: list[tuple[str, IO[bytes]]] = []
        for device in pool:
            handle = _try_lock(lock_dir, device)
            if handle is not None:
                held.append((device, handle))
                if len(held) == count:
                    return GpuClaim(tuple(d for d, _ in held), "claimed", [h for _, h in held])
        for _, handle in held:
            handle.close()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"no {count} free GPUs among {','.join(pool)} after {wait_seconds} s")
        if not waited:
            say(f"GPU job: all of GPUs {','.join(pool)} are held by other jobs (locks in {lock_dir}); waiting")
            waited = True
        time.sleep(POLL_SECONDS)


def assign_gpus(
    count: int,
    environ: MutableMapping[str, str] = os.environ,
    *,
    detect: Callable[[], list[str]] = detected_gpus,
    say: Callable[[str], None] = print,
) -> GpuClaim:
    """Give this process ``count`` GPUs of its own and set ``CUDA_VISIBLE_DEVICES`` to them; call before torch.

    The pool is ``CUDA_VISIBLE_DEVICES`` where set (SLURM's allocation, or the user's choice), else every
    GPU ``nvidia-smi`` lists. A pool no larger than ``count`` is used as given; from a larger one the job
    claims free devices. No GPU at all: nothing changes and the job runs on the CPU.
    """
    if count <= 0:
        return GpuClaim((), "none")
    given = environ.get(VISIBLE_DEVICES)
    pool = [d.strip() for d in given.split(",") if d.strip()] if given is not None else detect()
    if not pool:
        return GpuClaim((), "none")
    if given is not None and len(pool) <= count:
        return GpuClaim(tuple(pool), "given")
    claim = claim_gpus(min(count, len(pool)), pool, default_lock_dir(environ), say=say)
    environ[VISIBLE_DEVICES] = ",".join(claim.devices)
    return claim


@contextlib.contextmanager
def gpus_of_own(count: int) -> Iterator[GpuClaim]:
    """:func:`assign_gpus` for the block (a job's lifetime), saying in a GPU job's log which devices it got."""
    claim = assign_gpus(count)
    if count > 0:
        print(claim.describe(), flush=True)
    try:
        yield claim
    finally:
        claim.release()
