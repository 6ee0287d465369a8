"""The scorer's batching and row layout: every request once, within the token budget, little padding,
and an attention mask under which each continuation sees its context and itself only."""

import random

import torch

from ll_hallucination_pipeline.scoring import (
    MIN_ROW_FILL,
    _Group,
    _group_by_context,
    _layout,
    _next_batch_size,
    _tree_mask,
)


def _batches(groups: list[_Group], token_budget: int) -> list[list[_Group]]:
    """The forwards the scorer makes at a fixed budget, in order."""
    batches, start = [], 0
    while start < len(groups):
        size = _next_batch_size(groups, start, token_budget)
        batches.append(groups[start : start + size])
        start += size
    return batches


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
        assert len(batch) == 1 or len(batch) * batch[0].row_length <= 2048
        assert all(g.row_length <= batch[0].row_length for g in batch)


def test_batches_pad_little_once_full() -> None:
    groups = _groups(2000)
    batches = _batches(groups, token_budget=4096)
    padded = sum(len(b) * b[0].row_length for b in batches)
    real = sum(g.row_length for g in groups)
    assert padded <= real / MIN_ROW_FILL
    # and not one forward per length: most forwards are at least a quarter full
    assert sum(len(b) * b[0].row_length * 4 >= 4096 for b in batches) >= 0.5 * len(batches)


def test_layout_puts_each_continuation_after_its_context() -> None:
    batch = [_Group((1, 2, 3, 4), [(7, 8, 9), (5,)]), _Group((1, 2, 6), [(4, 4)])]
    layout = _layout(batch, start=2)
    assert layout.ids == [[3, 4, 7, 8], [6, 4]]
    assert layout.positions == [[2, 3, 4, 5], [2, 3]]
    assert layout.segments == [[0, 0, 1, 1], [0, 1]]
    # targets: (7 | ctx) at the last context column, (8 | 7), (9 | 8); (5 | ctx); (4 | ctx), (4 | 4)
    targets = zip(layout.target_rows, layout.target_columns, layout.target_tokens, layout.target_owner, strict=True)
    assert list(targets) == [
        (0, 1, 7, 0),
        (0, 2, 8, 0),
        (0, 3, 9, 0),
        (0, 1, 5, 1),
        (1, 0, 4, 2),
        (1, 1, 4, 2),
    ]


def test_tree_mask_hides_sibling_continuations_and_padding() -> None:
    segments = torch.tensor([[0, 0, 1, 1, 2, -1]])
    mask = _tree_mask(segments, prefix=2, dtype=torch.float32)[0, 0] == 0
    assert mask.shape == (6, 8) and mask[:, :2].all()  # everything sees the shared prefix
    seen = mask[:, 2:].int().tolist()
    assert seen == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 0, 0, 1, 0],  # continuation 2 skips continuation 1
        [0, 0, 0, 0, 0, 1],  # padding sees only itself
    ]
