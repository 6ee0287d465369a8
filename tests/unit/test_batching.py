"""The scorer's batching: every request once, within the token budget, little padding."""

import random

from ll_hallucination_pipeline.scoring import MIN_ROW_FILL, _batches, _Group, _group_by_context, _tail_chunks


def _groups(n: int, seed: int = 0) -> list[_Group]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        context = tuple(rng.randrange(100) for _ in range(int(rng.lognormvariate(3.5, 0.5)) + 1))
        pairs += [(context, tuple(rng.randrange(100) for _ in range(rng.randint(1, 12)))) for _ in range(4)]
    return _group_by_context(pairs)


def test_batches_cover_every_group_once_within_budget() -> None:
    groups = _groups(500)
    batches = _batches(groups, token_budget=2048)
    assert [g for batch in batches for g in batch] == groups
    for batch in batches:
        width = max(len(g.context) for g in batch)
        assert len(batch) == 1 or len(batch) * width <= 2048


def test_batches_pad_little_once_full() -> None:
    groups = _groups(2000)
    batches = _batches(groups, token_budget=4096)
    padded = sum(len(b) * len(b[0].context) for b in batches)
    real = sum(len(g.context) for g in groups)
    assert padded <= real / MIN_ROW_FILL
    # and not one forward per length: most forwards are at least a quarter full
    assert sum(len(b) * len(b[0].context) * 4 >= 4096 for b in batches) >= 0.5 * len(batches)


def test_tail_chunks_cover_nonempty_tails_within_budget() -> None:
    rng = random.Random(1)
    tails = [tuple(range(rng.randint(0, 20))) for _ in range(300)]
    chunks = _tail_chunks(tails, seen=40, token_budget=1024)
    assert sorted(r for chunk in chunks for r in chunk) == [r for r, t in enumerate(tails) if t]
    for chunk in chunks:
        width = len(tails[chunk[0]])
        assert all(len(tails[r]) <= width for r in chunk)
        assert len(chunk) == 1 or len(chunk) * (40 + width) <= 1024
