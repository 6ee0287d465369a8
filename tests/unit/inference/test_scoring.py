"""The scorer's batching and row layout: every request once, within the token budget, little padding,
and an attention mask under which each continuation sees its context and itself only."""

import random

import pytest
import torch
from lm_eval.models.huggingface import HFLM

from ll_hallucination_pipeline.inference.forward_layout import tree_mask
from ll_hallucination_pipeline.inference.scoring import (
    MIN_ROW_FILL,
    SharedPrefixLM,
    _Group,
    _group_by_context,
    _layout,
    _next_batch_size,
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
    mask = tree_mask(segments, prefix=2, dtype=torch.float32)[0, 0] == 0
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


def _bpe_tokenizer(texts: list[str]):
    """A small byte-level BPE trained on ``texts`` that adds a BOS token, as many base models' tokenizers do."""
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=400, special_tokens=["<s>", "</s>"], show_progress=False)
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")


def _token_requests(lm_class: type, model, tokenizer, pairs: list[tuple[str, str]]) -> list:
    """The token-level requests that ``lm_class``'s ``loglikelihood`` hands to its scorer for ``pairs``."""
    from lm_eval.api.instance import Instance

    class Capturing(lm_class):
        def _loglikelihood_tokens(self, requests, disable_tqdm=False, override_bs=None):
            return requests

    lm = (
        Capturing(model, tokenizer, cache=None) if lm_class is SharedPrefixLM else Capturing(model, tokenizer=tokenizer)
    )
    instances = [Instance("loglikelihood", {}, pair, n) for n, pair in enumerate(pairs)]
    return lm.loglikelihood(instances, disable_tqdm=True)


def test_tokenization_is_hflms_on_real_task_text(shared_data) -> None:
    """Every request of a TruthfulQA- and ARC-shaped set, encoded in batches, equals HFLM's one-by-one encoding:
    shared contexts, trailing spaces, an empty context and one that already starts with BOS included."""
    import json

    from transformers import LlamaConfig, LlamaForCausalLM

    tqa = [json.loads(line) for line in (shared_data / "truthfulqa/mc_validation.jsonl").open()][:60]
    arc = [json.loads(line) for line in (shared_data / "arc_easy/test.jsonl").open()][:60]
    pairs = [(f"Q: {r['question']}\nA:", f" {c}") for r in tqa for c in r["mc2_targets"]["choices"]]
    pairs += [(f"Question: {r['question']}\nAnswer: ", c) for r in arc for c in r["choices"]["text"]]
    pairs += [("", "an empty context"), ("<s>Q: already has BOS\nA:", " yes")]
    tokenizer = _bpe_tokenizer([c + x for c, x in pairs])
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
        )
    )
    ours = _token_requests(SharedPrefixLM, model, tokenizer, pairs)
    assert ours == _token_requests(HFLM, model, tokenizer, pairs)
    assert ours[0][1][0] == tokenizer.bos_token_id and ours[-1][1].count(tokenizer.bos_token_id) == 1


def _reference_loglikelihood(model, context: tuple[int, ...], continuation: tuple[int, ...]) -> float:
    """Sum of the continuation's token log-probabilities from one plain forward of context + continuation."""
    ids = torch.tensor([context + continuation])
    with torch.inference_mode():
        logprobs = torch.log_softmax(model(ids).logits[0, len(context) - 1 : -1].float(), dim=-1)
    return logprobs.gather(1, torch.tensor(continuation)[:, None]).sum().item()


def test_a_preamble_shared_by_every_batch_runs_once_and_scores_as_unbatched() -> None:
    """Contexts opening with one 40-token preamble, spread over many forwards by a small token budget: the
    preamble's forward runs once for all of them, and every score equals a plain forward's."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    ).eval()
    tokenizer = _bpe_tokenizer(["a preamble"])
    lm = SharedPrefixLM(model, tokenizer, cache=None, token_budget=256)
    rng = random.Random(0)
    preamble = tuple(rng.randrange(128) for _ in range(40))
    pairs = []
    for n in range(24):  # each context's first token after the preamble is its own: no batch shares more
        context = preamble + (n + 1,) + tuple(rng.randrange(128) for _ in range(rng.randint(2, 9)))
        pairs += [(context, tuple(rng.randrange(128) for _ in range(rng.randint(1, 5)))) for _ in range(3)]

    scores = lm._score_pairs(pairs)

    groups = _group_by_context(pairs)
    assert len(lm.stats.batches) > 3
    assert lm.stats.tokens_run == len(preamble) + sum(g.row_length - len(preamble) for g in groups)
    for context, continuation in pairs:
        expected = _reference_loglikelihood(model, context, continuation)
        assert scores[(context, continuation)][0] == pytest.approx(expected, abs=1e-4)
