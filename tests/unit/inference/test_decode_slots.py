"""Decoding in fixed slots: where a step writes keys and values, what it lets a row see, and how rows enter,
leave and move between slots."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from ll_hallucination_pipeline.inference.decode_slots import Prefilled, SlotCache, SlotRows
from ll_hallucination_pipeline.inference.generation import _bucket


def _prefill_cache(rows: int, width: int, layers: int = 2, heads: int = 2, dim: int = 4) -> DynamicCache:
    cache = DynamicCache()
    for layer in range(layers):
        keys = torch.arange(rows * heads * width * dim, dtype=torch.float32).reshape(rows, heads, width, dim)
        cache.update(keys + 1000 * layer, -keys, layer)
    return cache


def test_each_row_writes_at_its_own_column_and_sees_the_visible_columns():
    prefill = _prefill_cache(rows=3, width=5)
    cache = SlotCache(prefill, slots=4, columns=9)
    cache.place(torch.tensor([0, 1, 2]), prefill, torch.tensor([0, 1, 2]))
    cache.window.columns, cache.window.visible = torch.tensor([5, 2, 7]), 8
    new = torch.full((3, 2, 1, 4), 7.0)
    keys, values = cache.layers[1].update(new, -new)
    assert keys.shape == (3, 2, 8, 4) and values.shape == (3, 2, 8, 4)
    stored = cache.layers[1].keys
    assert (stored[0, :, 5] == 7).all() and (stored[1, :, 2] == 7).all() and (stored[2, :, 7] == 7).all()
    assert torch.equal(stored[0, :, :5], prefill.layers[1].keys[0])  # the prompt's columns are kept
    assert (stored[1, :, 3:5] == prefill.layers[1].keys[1, :, 3:5]).all()
    assert (stored[3] == 0).all()  # a slot nobody was placed in


def test_rows_take_the_lowest_free_slots_and_move_down_once_others_leave():
    prefill = _prefill_cache(rows=4, width=3)
    cache = SlotCache(prefill, slots=4, columns=6)
    rows = SlotRows(cache, 4, torch.device("cpu"))
    tokens, positions = torch.tensor([10, 11, 12, 13]), torch.tensor([3, 2, 3, 1])
    rows.admit(
        Prefilled(prefill, torch.arange(4), tokens, positions, torch.zeros(4, dtype=torch.bool), -tokens, [0, 1, 2, 3])
    )
    rows.release([0, 2])
    assert rows.live == 2 and rows.extent == 4 and rows.positions.tolist() == [0, 2, 0, 1]
    assert rows.reached() == 2
    rows.compact()
    assert rows.owners == [3, 1, None, None] and rows.extent == 2
    assert rows.token[:2].tolist() == [13, 11] and rows.positions[:2].tolist() == [1, 2]
    assert torch.equal(cache.layers[0].keys[0, :, :3], prefill.layers[0].keys[3])
    one = _prefill_cache(rows=1, width=2)
    twice = Prefilled(
        one,
        torch.tensor([0, 0]),
        torch.tensor([5, 6]),
        torch.tensor([2, 2]),
        torch.ones(2, dtype=torch.bool),
        torch.tensor([-1, 9]),
        [14, 15],
    )
    rows.admit(twice)  # one prompt, its greedy row and one sample
    assert (
        rows.owners == [3, 1, 14, 15]
        and rows.flagged.tolist()[2:] == [True, True]
        and rows.keys.tolist()[2:] == [-1, 9]
    )
    assert torch.equal(cache.layers[1].keys[2, :, :2], one.layers[1].keys[0])
    assert torch.equal(cache.layers[1].keys[3, :, :2], one.layers[1].keys[0])


def test_steps_run_over_halved_slot_counts_that_hold_the_live_rows():
    assert [_bucket(256, extent) for extent in (256, 129, 128, 100, 3, 1)] == [256, 256, 128, 128, 4, 1]
    assert _bucket(100, 26) == 50 and _bucket(100, 25) == 25


def test_a_finished_pass_frees_its_cache_without_waiting_for_the_garbage_collector():
    """The next pass sizes its rows by the memory free then: the slots of the last must be gone at once."""
    import gc
    import weakref

    cache = SlotCache(_prefill_cache(rows=1, width=2), slots=4, columns=6)
    rows = SlotRows(cache, 4, torch.device("cpu"))
    keys = weakref.ref(cache.layers[0].keys)
    gc.disable()
    try:
        del cache, rows
        assert keys() is None
    finally:
        gc.enable()
