"""Batched greedy generation's pure parts: stop flags on the device, batch sizing, when lm-eval's own path runs."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from ll_hallucination_pipeline.inference.generation import StopTables, logits_changing_settings, rows_within_budget

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
    from ll_hallucination_pipeline.inference.generation import MAX_ROWS, kv_bytes_per_token, rows_within_memory

    qwen3_8b = SimpleNamespace(num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128)
    per_token = kv_bytes_per_token(qwen3_8b, dtype_bytes=2)
    assert per_token == 2 * 36 * 8 * 128 * 2  # keys and values, every layer, bf16
    assert rows_within_memory(2**30, per_token, 500, 256) == 4  # 0.5 GiB / (144 KiB x 756 tokens)
    assert rows_within_memory(80 * 2**30, per_token, 500, 256) == MAX_ROWS
    assert rows_within_memory(2**20, per_token, 500, 256) == 1
