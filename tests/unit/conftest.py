"""Fixtures of the unit tests: a small study of hand-made lm-eval outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ll_hallucination_pipeline.analysis import RunSet
from tests.helpers import write_run

N = 40


@pytest.fixture
def runs(tmp_path: Path) -> RunSet:
    rng = np.random.default_rng(0)
    arc_base = rng.integers(0, 2, N).astype(float)
    tqa_base = rng.uniform(0.2, 0.8, N)
    base_dirs, post_dirs = [], []
    for seed in (0, 1):
        base_dirs += [write_run(tmp_path, "arc_easy", seed, arc_base.tolist())]
        base_dirs += [write_run(tmp_path, "truthfulqa_mc2", seed, tqa_base.tolist())]
    for train_seed, shift in ((0, 0.10), (1, 0.14)):
        arc_post = arc_base.copy()
        arc_post[: int(N * shift)] = 1.0
        tqa_post = tqa_base + shift + rng.normal(0, 0.02, N)
        for seed in (0, 1):
            meta = {"recipe": "r", "training_seed": train_seed}
            post_dirs.append(write_run(tmp_path, "arc_easy", seed, arc_post.tolist(), f"r_seed{train_seed}", **meta))
            post_dirs.append(
                write_run(tmp_path, "truthfulqa_mc2", seed, tqa_post.tolist(), f"r_seed{train_seed}", **meta)
            )
    return RunSet.load(base_dirs, post_dirs)
