"""compare_prepost's step timed on a finished study's runs, for the package in this checkout or another's src/.

Figure in bench/RESULTS.md: under 'CPU', compare_prepost's step before and after.

    uv run python bench/cpu_compare.py STUDY_DIR [SRC_DIR] [OUT_PREFIX]
STUDY_DIR: a workdir where `snakemake all` finished (its config.yaml's stats section is used); SRC_DIR: another
checkout's src/ (e.g. from `git worktree add /tmp/before COMMIT`); the CSVs go to OUT_PREFIX_{deltas,tests}.csv.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

study, *rest = sys.argv[1:]
if rest:
    sys.path.insert(0, rest[0])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
out = rest[1] if len(rest) > 1 else "/tmp/compare"

from ll_hallucination_pipeline.workflow import write_comparison_tables  # noqa: E402

study_dir = Path(study)
stats = yaml.safe_load((study_dir / "config.yaml").read_text())["stats"]
base = sorted(str(p) for p in study_dir.glob("evals/baseline/*_full/results.json"))
post = sorted(str(p) for p in study_dir.glob("evals/postqlora/*/*_full/results.json"))
start = time.perf_counter()
write_comparison_tables(base, post, f"{out}_deltas.csv", f"{out}_tests.csv", stats)
print(f"{sys.modules['ll_hallucination_pipeline'].__file__}: {time.perf_counter() - start:.1f} s")
