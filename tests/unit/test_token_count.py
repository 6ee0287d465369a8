"""The training log counts real tokens, and the manifest the mean loss, across a resumption from a checkpoint."""

from ll_hallucination_pipeline.train import continue_token_count, mean_step_loss


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


def test_mean_loss_takes_every_logged_step_and_not_the_summary():
    steps = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.0}]
    history = [*steps, {"step": 3, "train_loss": 1.5}]
    assert mean_step_loss(history) == 2.0
    assert mean_step_loss([{"step": 0, "train_loss": 0.0}]) is None
