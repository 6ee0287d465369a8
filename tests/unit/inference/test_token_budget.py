"""Sizing the scorer's forwards: ``eval.token_budget`` fixed or ``auto``, and the out-of-memory retry."""

import pytest
import torch

from ll_hallucination_pipeline.inference.scoring import ScoringStats, SharedPrefixLM
from ll_hallucination_pipeline.inference.token_budget import (
    AUTO_CAP,
    AUTO_FLOOR,
    AUTO_MEMORY_SHARE,
    AUTO_START,
    TokenBudget,
    fit_to_memory,
)

GIB = 2**30


@pytest.mark.parametrize("bytes_per_token", [2e4, 1.9e5, 5e5, 4e6])
@pytest.mark.parametrize("free_gib", [0.5, 14, 70])
def test_fitted_budget_stays_within_the_free_memory_share_and_the_bounds(bytes_per_token, free_gib):
    budget = fit_to_memory(bytes_per_token, int(free_gib * GIB))
    assert AUTO_FLOOR <= budget <= AUTO_CAP and budget % 256 == 0
    assert budget == AUTO_FLOOR or budget * bytes_per_token <= AUTO_MEMORY_SHARE * free_gib * GIB
    assert budget == AUTO_CAP or (budget + 256) * bytes_per_token > AUTO_MEMORY_SHARE * free_gib * GIB


def test_a_larger_card_gets_larger_forwards():
    # the 8B shape's first forward: ~0.5 MB per padded token (9.6 GiB peak at 8192 with ~5.5 GiB of weights)
    workstation, h100 = fit_to_memory(5e5, 18 * GIB), fit_to_memory(5e5, 70 * GIB)
    assert AUTO_START < workstation < h100 == AUTO_CAP


def test_auto_starts_each_call_small_and_resizes_from_the_measurement():
    budget = TokenBudget("auto")
    assert budget.at_call_start(measurable=True) == AUTO_START
    assert budget.measured(5e5, 18 * GIB) == fit_to_memory(5e5, 18 * GIB)
    assert budget.at_call_start(measurable=True) == AUTO_START  # a later call's rows may be wider: measured again
    assert TokenBudget("auto").at_call_start(measurable=False) == AUTO_START  # a CPU: never measured


def test_a_fixed_budget_is_kept_and_only_halved_by_running_out_of_memory():
    budget = TokenBudget(4096)
    assert budget.at_call_start(measurable=True) == 4096
    assert budget.measured(5e5, 70 * GIB) == 4096
    assert budget.halve() == 2048 and budget.at_call_start(measurable=True) == 2048


def test_halving_stops_at_the_floor_with_a_clear_error():
    budget = TokenBudget(AUTO_FLOOR)
    with pytest.raises(MemoryError, match=f"{AUTO_FLOOR} tokens does not fit"):
        budget.halve()


@pytest.mark.parametrize("setting", [0, 100, "big", 2.5])
def test_a_bad_setting_is_refused(setting):
    with pytest.raises(ValueError, match="token_budget must be 'auto' or an integer"):
        TokenBudget(setting)


def test_a_forward_out_of_memory_is_retried_smaller_and_every_pair_scored_once():
    """The scorer's loop, its forwards replaced by one that fails above 300 padded tokens."""
    lm = object.__new__(SharedPrefixLM)  # no model: only the batching loop runs
    lm._device = torch.device("cpu")
    lm.token_budget = TokenBudget(1024)
    lm.stats = ScoringStats()
    forwards = []

    def fake_forward(batch):
        padded = len(batch) * batch[0].row_length
        if padded > 300:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        forwards.append(padded)
        return {(g.context, c): (-float(len(c)), True) for g in batch for c in g.continuations}

    lm._score_batch = fake_forward
    pairs = [(tuple(range(n, n + 15)), (n, 7)) for n in range(60)]  # rows of 16 tokens: 960 in one forward
    scores = lm._score_pairs(pairs)
    assert set(scores) == set(pairs)
    assert forwards == [256, 256, 256, 192]  # 1024 and 512 failed; 256 kept for the rest and later calls
    assert lm.token_budget.current == 256 and lm.stats.largest_token_budget == 256
