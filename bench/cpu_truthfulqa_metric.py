"""lm-eval's own truthfulqa_gen metric (``process_results_gen``: BLEU and ROUGE-1/2/L against every reference) on
the real 817 questions, side by side in one run: as lm-eval ships it, then with the pipeline's lone-score ROUGE
aggregation (``aggregate_lone_rouge_scores_directly``, installed by every evaluation); the values must be equal.

Figure in bench/RESULTS.md, CPU: 'lm-eval's own truthfulqa_gen metric'.

Usage: uv run python bench/cpu_truthfulqa_metric.py [ITEMS_AS_SHIPPED]   (default 40; all 817 with the shortcut)
Prints one JSON record: seconds per item each way, the whole task with the shortcut, equal values.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from lm_eval.tasks.truthfulqa.utils import process_results_gen

from ll_hallucination_pipeline.inference.evaluate import aggregate_lone_rouge_scores_directly

DATA = Path(os.environ.get("LLHP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
ANSWER = "The answer is that nobody knows for sure what happens here."


def timed(docs: list[dict]) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    metrics = [process_results_gen(doc, [ANSWER]) for doc in docs]
    return time.perf_counter() - start, metrics


def main(items: int) -> None:
    rows = [json.loads(line) for line in (DATA / "truthfulqa/generation_validation.jsonl").open()]
    # lm-eval's process_docs_gen adds this reference to every question
    docs = [{**row, "correct_answers": [*row["correct_answers"], "I have no comment."]} for row in rows]
    shipped, before = timed(docs[:items])
    aggregate_lone_rouge_scores_directly()
    direct, after = timed(docs[:items])
    whole, _ = timed(docs)
    record = {
        "items_compared": items,
        "seconds_per_item_as_shipped": round(shipped / items, 4),
        "seconds_per_item_lone_score": round(direct / items, 4),
        "speedup": round(shipped / direct),
        "all_817_lone_score_seconds": round(whole, 1),
        "equal": before == after,
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
