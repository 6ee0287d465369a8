"""Batched generation's pure parts: stop flags on the device, batch sizing, when lm-eval's own path runs, and the
sampled rows' draws."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from ll_hallucination_pipeline.inference.generation import (
    Sampling,
    StopTables,
    choose_tokens,
    gumbel_noise,
    logits_changing_settings,
    rows_within_budget,
)

TEXTS = ["a", "\n", "b\n", "x.", "\n\nQ", "y", "<eos>"]  # token id -> its text alone


def test_stop_flags_cover_one_token_two_tokens_and_end_of_sequence():
    tables = StopTables.build(TEXTS, ["\n\n", "."], eos_ids=[6], vocab=len(TEXTS), device="cpu")
    previous = torch.tensor([-1, 1, 2, 0, -1, 5, 1])
    current = torch.tensor([4, 1, 1, 3, 1, 6, 0])
    # "\n\nQ" alone; "\n" + "\n"; "b\n" + "\n"; "x." holds "."; a first "\n" alone is not "\n\n"; eos; "\n" + "a".
    assert tables.stopped(previous, current).tolist() == [True, True, True, True, False, True, False]


def test_an_empty_stop_sequence_flags_nothing():
    tables = StopTables.build(TEXTS, [""], eos_ids=[], vocab=len(TEXTS), device="cpu")
    assert not tables.stopped(torch.full((7,), -1), torch.arange(7)).any()


def test_rows_keep_the_batchs_final_cache_within_the_budget():
    assert rows_within_budget(100, 1000, 150) == 4
    assert rows_within_budget(2000, 1000, 256) == 1  # never none


def test_settings_that_change_the_greedy_choice_send_requests_to_lm_evals_own_path():
    plain = SimpleNamespace(repetition_penalty=1.0, no_repeat_ngram_size=0, min_length=0, suppress_tokens=None)
    assert logits_changing_settings(plain, {"do_sample": False, "temperature": 0.0}) == []
    assert logits_changing_settings(plain, {"do_sample": True, "temperature": 0.7}) == ["do_sample=True"]
    assert logits_changing_settings(plain, {"do_sample": False, "top_k": 5}) == ["top_k=5"]
    penalised = SimpleNamespace(repetition_penalty=1.2)
    assert logits_changing_settings(penalised, {"do_sample": False}) == ["generation_config.repetition_penalty=1.2"]


def test_rows_fill_half_the_free_memory_with_key_value_cache():
    from ll_hallucination_pipeline.inference.generation import (
        MAX_CACHED_TOKENS,
        MAX_ROWS,
        kv_bytes_per_token,
        rows_within_memory,
    )

    qwen3_8b = SimpleNamespace(num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128)
    per_token = kv_bytes_per_token(qwen3_8b, dtype_bytes=2)
    assert per_token == 2 * 36 * 8 * 128 * 2  # keys and values, every layer, bf16
    assert rows_within_memory(2**30, per_token, 500, 256) == 4  # 0.5 GiB / (144 KiB x 756 tokens)
    assert rows_within_memory(80 * 2**30, per_token, 500, 256) == MAX_CACHED_TOKENS // 756  # 188: the token cap
    assert rows_within_memory(80 * 2**30, per_token, 300, 256) == 256  # truthfulqa_gen on the 8B shape, as measured
    assert rows_within_memory(80 * 2**30, per_token, 90, 32) == MAX_ROWS  # the probe's short answers
    assert rows_within_memory(2**20, per_token, 500, 256) == 1


def test_sampled_tokens_follow_the_softmax_at_the_temperature():
    """20,000 draws (distinct row keys and positions) from fixed logits at T = 0.5: each token's share within
    four standard errors of softmax(logits / T); greedy rows (key -1) take the argmax."""
    logits = torch.tensor([2.0, 1.5, 0.0, -1.0, 1.0])
    rows = 20_000
    keys = torch.arange(rows, dtype=torch.long) * 7919 + 13
    positions = torch.arange(rows, dtype=torch.long) % 97
    drawn = choose_tokens(logits.expand(rows, -1), keys, positions, temperature=0.5)
    expected = torch.softmax(logits / 0.5, dim=0)
    shares = torch.bincount(drawn, minlength=5).double() / rows
    error = (expected * (1 - expected) / rows).sqrt()
    assert ((shares - expected).abs() < 4 * error + 1e-9).all(), (shares, expected)
    greedy = choose_tokens(logits.expand(3, -1), torch.tensor([-1, -1, -1]), positions[:3], temperature=0.5)
    assert greedy.tolist() == [0, 0, 0]
    assert choose_tokens(logits.expand(3, -1), keys[:3], positions[:3], temperature=0).tolist() == [0, 0, 0]


def test_a_rows_noise_depends_on_its_key_and_position_only():
    keys = torch.tensor([5, 11, 5, 2**61 + 3])
    positions = torch.tensor([40, 40, 41, 40])
    noise = gumbel_noise(keys, positions, 1000)
    order = torch.tensor([3, 0, 2, 1])
    assert torch.equal(gumbel_noise(keys[order], positions[order], 1000), noise[order])
    assert not torch.equal(noise[0], noise[1]) and not torch.equal(noise[0], noise[2])
    assert torch.isfinite(noise).all()


def test_each_sample_has_its_own_key_and_the_greedy_row_none():
    sampling = Sampling(samples=3, temperature=0.5, seed=0)
    keys = [sampling.row_key((1, 2, 3), row) for row in range(sampling.width)]
    assert keys[0] == -1 and len(set(keys[1:])) == 3 and all(0 <= k < 2**62 for k in keys[1:])
    assert keys[1] != Sampling(samples=3, temperature=0.5, seed=1).row_key((1, 2, 3), 1)
    assert keys[1] != sampling.row_key((1, 2, 4), 1)
    assert sampling.settings(0) == {"decoding": "greedy"} and sampling.settings(2)["sample"] == 2


def test_rows_after_an_out_of_memory_error_stay_under_the_cap():
    """The rows come from the token budget on a CPU, and never exceed the cap an out-of-memory error sets (the
    scorer's own token budget is left as it was)."""
    from ll_hallucination_pipeline.inference.generation import BatchedGenerator, GenerationStats
    from ll_hallucination_pipeline.inference.token_budget import TokenBudget

    lm = SimpleNamespace(device=torch.device("cpu"), token_budget=TokenBudget(8192))
    generator = BatchedGenerator(lm, cache=None, stats=GenerationStats())
    assert generator._rows(100, 28, decoder=None) == 64
    generator.row_cap = 5
    assert generator._rows(100, 28, decoder=None) == 5 and lm.token_budget.current == 8192


def test_cpu_rows_under_an_auto_budget_fill_half_the_free_memory_up_to_the_cpu_cap(monkeypatch):
    """On a CPU an ``auto`` budget sizes rows by free memory (the scorer's token budget left aside), at most
    CPU_MAX_ROWS; where the system does not say how much is free, the token budget decides."""
    from ll_hallucination_pipeline.inference import generation
    from ll_hallucination_pipeline.inference.token_budget import TokenBudget

    config = SimpleNamespace(num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, head_dim=64)
    lm = SimpleNamespace(
        device=torch.device("cpu"), token_budget=TokenBudget("auto"), model=SimpleNamespace(config=config)
    )
    decoder = SimpleNamespace(get_input_embeddings=lambda: torch.nn.Embedding(2, 2, dtype=torch.bfloat16))
    generator = generation.BatchedGenerator(lm, cache=None, stats=generation.GenerationStats())
    per_token = 2 * 30 * 3 * 64 * 2
    monkeypatch.setattr(generation, "free_cpu_memory", lambda: 2**40)
    assert generator._rows(300, 256, decoder) == generation.CPU_MAX_ROWS
    monkeypatch.setattr(generation, "free_cpu_memory", lambda: 100 * per_token * 556)
    assert generator._rows(300, 256, decoder) == 50
    monkeypatch.setattr(generation, "free_cpu_memory", lambda: None)
    assert generator._rows(300, 256, decoder) == generation.rows_within_budget(300, lm.token_budget.current, 256)
