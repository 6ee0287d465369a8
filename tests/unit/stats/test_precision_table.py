"""The study on other base precisions: the base's quantization gap, each adapter's delta on each precision and
the difference of deltas, on hand-made runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ll_hallucination_pipeline.stats.analysis import RunSet, precision_table
from ll_hallucination_pipeline.stats.methods import StatsSettings
from tests.helpers import write_run

N = 200


def _runs(root: Path, base: np.ndarray, post: np.ndarray) -> tuple[list[str], list[str]]:
    meta = {"recipe": "r", "training_seed": 0}
    return [write_run(root, "truthfulqa_mc2", 0, base.tolist())], [
        write_run(root, "truthfulqa_mc2", 0, post.tolist(), "r_seed0", **meta)
    ]


def test_gap_deltas_and_their_difference(tmp_path: Path):
    rng = np.random.default_rng(0)
    base_nf4 = rng.uniform(0.2, 0.7, N)
    base_bf16 = base_nf4 + 0.05 + rng.normal(0, 0.01, N)  # the unquantized base scores 0.05 higher
    study = RunSet.load(*_runs(tmp_path / "nf4", base_nf4, base_nf4 + 0.10 + rng.normal(0, 0.01, N)))
    bf16 = RunSet.load(*_runs(tmp_path / "bf16", base_bf16, base_bf16 + 0.02 + rng.normal(0, 0.01, N)))
    merged_dirs = _runs(tmp_path / "merged", base_bf16, base_bf16 + 0.02 + rng.normal(0, 0.01, N))[1]
    merged = RunSet.load([str(bf16.baseline[("truthfulqa_mc2", 0)].directory)], merged_dirs)
    table = precision_table(study, {"bf16": bf16, "merged": merged}, StatsSettings(n_resamples=400))
    rows = table.set_index("level")
    gap = rows.loc["quantization gap of the base (bf16 − nf4)"]
    assert gap["adapter"] == "base" and gap["delta"] == pytest.approx(0.05, abs=0.005) and gap["significant"]
    assert len(table[table["level"].str.startswith("quantization gap")]) == 1  # merged shares bf16's base
    assert rows.loc["adapter delta on nf4", "delta"] == pytest.approx(0.10, abs=0.005)
    assert rows.loc["adapter delta on bf16", "delta"] == pytest.approx(0.02, abs=0.005)
    difference = rows.loc["difference of deltas (bf16 − nf4)"]
    assert difference["delta"] == pytest.approx(-0.08, abs=0.005) and difference["significant"]
    assert {"difference of deltas (merged − nf4)", "adapter delta on merged"} <= set(rows.index)
    assert (table["p_holm"] >= table["p_raw"]).all() and table["simultaneous_ci_low"].notna().all()


def test_an_adapter_that_holds_on_both_bases_shows_no_difference(tmp_path: Path):
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.7, N)
    post = base + 0.1 + rng.normal(0, 0.02, N)
    study = RunSet.load(*_runs(tmp_path / "nf4", base, post))
    bf16 = RunSet.load(*_runs(tmp_path / "bf16", base + 0.01, post + 0.01 + rng.normal(0, 0.02, N)))
    table = precision_table(study, {"bf16": bf16}, StatsSettings(n_resamples=400)).set_index("level")
    assert not table.loc["difference of deltas (bf16 − nf4)", "significant"]
