"""The score cache's cost per evaluation pass, side by side with one file per request (its layout before).

Figure in bench/RESULTS.md: 'the score cache's cost per fresh pass'.

For a pass of ARC-Easy's 9,496 and TruthfulQA mc2's 5,882 requests: the seconds to store every score
after the forwards (what a fresh evaluation pays) and to read them all in a new process's cache (what a
re-run or another seed pays), through :class:`ll_hallucination_pipeline.inference.score_cache.ScoreCache`, and the
same through one atomic file per request (``io.atomic_write_text``, as the cache wrote them before).

    uv run python bench/score_cache.py [DIR]   # DIR: where to write (default: a temporary directory);
                                               # point it at a cluster's shared filesystem to time that one
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from ll_hallucination_pipeline.inference.score_cache import ScoreCache  # noqa: E402
from ll_hallucination_pipeline.utils.io import atomic_write_text  # noqa: E402

PASSES = {"arc_easy": 9496, "truthfulqa_mc2": 5882}


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return round(time.perf_counter() - start, 3)


def per_request_files(directory: Path, scores: dict[str, tuple[float, bool]]) -> dict[str, float]:
    def write() -> None:
        for key, score in scores.items():
            atomic_write_text(directory / key[:2] / f"{key}.json", json.dumps(list(score)), durable=False)

    def read() -> None:
        for key in scores:
            json.loads((directory / key[:2] / f"{key}.json").read_text())

    return {"store_s": timed(write), "read_s": timed(read), "files": sum(1 for _ in directory.rglob("*.json"))}


def shards(directory: Path, scores: dict[str, tuple[float, bool]]) -> dict[str, float]:
    store = timed(lambda: ScoreCache(directory, "bench").put_many(scores.items()))
    read = timed(lambda: ScoreCache(directory, "bench").get_many(scores))
    return {"store_s": store, "read_s": read, "files": sum(1 for _ in directory.rglob("*.json"))}


def main(root: Path) -> None:
    rng = random.Random(0)
    for task, requests in PASSES.items():
        keyer = ScoreCache(root, "bench")
        scores = {
            keyer.key([rng.randrange(150_000) for _ in range(60)], [rng.randrange(150_000)]): (-rng.random() * 30, True)
            for _ in range(requests)
        }
        layouts = (("one file per request", per_request_files), ("one shard per pass (ScoreCache)", shards))
        for n, (layout, run) in enumerate(layouts):
            directory = root / f"{task}-{n}"
            shutil.rmtree(directory, ignore_errors=True)
            print(json.dumps({"task": task, "requests": requests, "layout": layout, **run(directory, scores)}))
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
