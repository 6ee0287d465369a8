"""The training log counts real tokens on across a resumption from a checkpoint."""

from ll_hallucination_pipeline.train import continue_token_count


def log(*steps_tokens):
    return [{"step": s, "loss": 1.0, "num_tokens": n} for s, n in steps_tokens] + [{"step": 4, "train_loss": 1.0}]


def test_resumed_count_goes_on_from_the_checkpoint():
    history, before = continue_token_count(log((1, 10), (2, 25), (3, 12), (4, 20)), resumed_from=2)
    assert before == 25
    assert [e.get("num_tokens") for e in history] == [10, 25, 37, 45, None]


def test_uninterrupted_or_already_continued_counts_are_kept():
    for history, resumed_from in ((log((1, 10), (2, 25)), 0), (log((1, 10), (2, 25), (3, 37)), 2)):
        kept, _ = continue_token_count(history, resumed_from)
        assert kept == history
