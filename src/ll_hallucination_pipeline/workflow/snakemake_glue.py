"""Helpers for the thin scripts under workflow/scripts/: logging into ``snakemake.log[0]``, a GPU of the job's own."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..tasks import register_own_tasks
from .gpu_assignment import gpus_of_own


@contextlib.contextmanager
def logged(log_file: str | Path, *, config: Mapping[str, Any], gpus: int = 0) -> Iterator[None]:
    """Send stdout, stderr and logging of the block to ``log_file``; re-raise errors after logging them.

    ``config``: the workflow's (``snakemake.config``); the user's own tasks it names are registered in this
    process (see :mod:`.own_tasks`). ``gpus``: the rule's ``gpu`` resource; the block runs on that many GPUs of
    its own (see :mod:`.gpu_assignment`), so enter it before anything imports torch.
    """
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "w", encoding="utf-8") as handle:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = handle
        logging.basicConfig(
            stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
        )
        logging.getLogger(__name__).info("job started")
        try:
            register_own_tasks(config.get("eval", {}))
            with gpus_of_own(gpus):
                yield
        except Exception as exc:
            handle.write(f"ERROR: {exc}\n")
            raise
        finally:
            sys.stdout, sys.stderr = old
