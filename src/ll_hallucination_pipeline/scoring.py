"""A faster loglikelihood scorer behind lm-eval's ``LM`` interface.

:class:`SharedPrefixLM` is lm-eval's own ``HFLM`` (same tokenization, same request handling,
same generation) with ``_loglikelihood_tokens`` replaced: each distinct context is run once,
its key/value cache is shared by all of its continuations, and every result is stored in a
model-keyed :class:`~.score_cache.ScoreCache`, so a second seed or a re-run costs no forward pass.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lm_eval.models.huggingface import HFLM

from .score_cache import Score, ScoreCache

if TYPE_CHECKING:
    import torch

Request = tuple[tuple[str, str], list[int], list[int]]


@dataclass
class ScoringStats:
    """What one evaluation cost: requests served from the cache and forward-scored."""

    requests: int = 0
    cache_hits: int = 0
    scored: int = 0
    contexts_run: int = 0
    tokens_run: int = 0
    batches: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "scored": self.scored,
            "contexts_run": self.contexts_run,
            "tokens_run": self.tokens_run,
            "batches": len(self.batches),
        }


@dataclass
class _Group:
    """One context and the continuations scored after it."""

    context: tuple[int, ...]
    continuations: list[tuple[int, ...]]


def _group_by_context(pairs: Sequence[tuple[tuple[int, ...], tuple[int, ...]]]) -> list[_Group]:
    groups: dict[tuple[int, ...], _Group] = {}
    for context, continuation in pairs:
        group = groups.setdefault(context, _Group(context, []))
        if continuation not in group.continuations:
            group.continuations.append(continuation)
    return sorted(groups.values(), key=lambda g: (-len(g.context), g.context))


# Once a forward holds a quarter of the token budget, a row shorter than this fraction of its widest
# starts the next one: padding stays small, and forwards (each with a fixed cost) stay few.
MIN_ROW_FILL = 0.9


def _batches(groups: list[_Group], token_budget: int) -> list[list[_Group]]:
    """Split length-sorted (longest first) groups into forwards of at most ``token_budget`` padded
    tokens, little padding (see ``MIN_ROW_FILL``)."""
    batches: list[list[_Group]] = []
    current: list[_Group] = []
    cont_width = n_conts = 0
    for group in groups:
        width = len(current[0].context) if current else len(group.context)
        new_cont_width = max(cont_width, *(len(c) for c in group.continuations))
        new_conts = n_conts + len(group.continuations)
        too_big = (len(current) + 1) * width > token_budget or new_conts * new_cont_width > token_budget
        too_short = len(group.context) < MIN_ROW_FILL * width and len(current) * width * 4 >= token_budget
        if current and (too_big or too_short):
            batches.append(current)
            current = []
            new_cont_width = max(len(c) for c in group.continuations)
            new_conts = len(group.continuations)
        current.append(group)
        cont_width, n_conts = new_cont_width, new_conts
    if current:
        batches.append(current)
    return batches


class SharedPrefixLM(HFLM):
    """``HFLM`` whose loglikelihoods share each context's forward pass and a model-keyed cache.

    Parameters
    ----------
    model : transformers.PreTrainedModel or peft.PeftModel
        The loaded (possibly quantized, possibly adapted) causal LM.
    tokenizer : transformers.PreTrainedTokenizerBase
    cache : ScoreCache
        Results store; its fingerprint must identify ``model`` exactly.
    token_budget : int
        Upper bound on padded tokens per forward pass (rows x width).
    """

    def __init__(self, model: Any, tokenizer: Any, *, cache: ScoreCache, token_budget: int = 4096) -> None:
        super().__init__(pretrained=model, tokenizer=tokenizer, batch_size=1)
        self.score_cache = cache
        self.token_budget = token_budget
        self.stats = ScoringStats()

    def _loglikelihood_tokens(
        self, requests: list[Request], disable_tqdm: bool = False, override_bs: int | None = None
    ) -> list[Score]:
        pairs = [self._truncate(ctx, cont) for _, ctx, cont in requests]
        keys = [self.score_cache.key(ctx, cont) for ctx, cont in pairs]
        found = {key: self.score_cache.get(key) for key in set(keys)}
        missing = [pair for pair, key in zip(pairs, keys, strict=True) if found[key] is None]
        self.stats.requests += len(requests)
        self.stats.cache_hits += len(requests) - len(missing)
        if missing:
            fresh = self._score_pairs(missing)
            self.stats.scored += len(fresh)
            new_entries = {self.score_cache.key(*pair): score for pair, score in fresh.items()}
            self.score_cache.put_many(new_entries.items())
            found.update(new_entries)
        return [found[key] for key in keys]  # type: ignore[misc]

    def _truncate(self, context: list[int], continuation: list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Left-truncate the context as HFLM does, so the pair fits ``max_length``."""
        keep = self.max_length + 1 - len(continuation)
        return tuple(context[-keep:] if keep < len(context) else context), tuple(continuation)

    def _score_pairs(
        self, pairs: list[tuple[tuple[int, ...], tuple[int, ...]]]
    ) -> dict[tuple[tuple[int, ...], tuple[int, ...]], Score]:
        import torch

        results: dict[tuple[tuple[int, ...], tuple[int, ...]], Score] = {}
        with torch.inference_mode():
            for batch in _batches(_group_by_context(pairs), self.token_budget):
                results.update(self._score_batch(batch))
        return results

    def _decoder_and_head(self) -> tuple[Any, Any]:
        causal_lm = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        return causal_lm.get_decoder(), causal_lm.get_output_embeddings()

    def _score_batch(self, batch: list[_Group]) -> dict[tuple[tuple[int, ...], tuple[int, ...]], Score]:
        """Score ``batch`` in three forwards that share a key/value cache.

        1. the prefix common to all its contexts (e.g. TruthfulQA's preamble), once;
        2. the rest of every context, one row each;
        3. every continuation, one row each, on its context's cache rows.
        Rows are right-padded; holes are masked and positions given explicitly, so every real
        token attends to exactly the tokens it would attend to unbatched.
        """
        import torch

        decoder, head = self._decoder_and_head()
        device = self.device
        shared = _common_prefix([g.context for g in batch])
        cache, seen_mask = None, torch.ones((1, len(shared)), dtype=torch.long, device=device)
        if shared:
            ids = torch.tensor([shared], device=device)
            out = decoder(
                input_ids=ids,
                position_ids=torch.arange(len(shared), device=device)[None],
                use_cache=True,
            )
            cache = out.past_key_values
            cache.reorder_cache(torch.zeros(len(batch), dtype=torch.long, device=device))
        seen_mask = seen_mask.expand(len(batch), -1)

        rests = [g.context[len(shared) :] for g in batch]
        rest_lens = torch.tensor([len(r) for r in rests], device=device)
        rest_mask = _pad([(1,) * len(r) for r in rests], device)
        out = self._forward(decoder, _pad(rests, device), seen_mask, rest_mask, len(shared), cache)
        last_hidden = out.last_hidden_state[torch.arange(len(batch), device=device), rest_lens - 1]
        first_logprobs = torch.log_softmax(head(last_hidden).float(), dim=-1)  # rows <= budget / width
        self.stats.contexts_run += len(batch)
        self.stats.tokens_run += len(shared) + int(rest_lens.sum())

        owner = [i for i, g in enumerate(batch) for _ in g.continuations]
        conts = [c for g in batch for c in g.continuations]
        index = torch.tensor(owner, device=device)
        first_tokens = torch.tensor([c[0] for c in conts], device=device)
        row_first = first_logprobs[index]
        logprob = row_first.gather(1, first_tokens[:, None])[:, 0]
        greedy = row_first.argmax(-1) == first_tokens

        tails = [c[:-1] for c in conts]  # inputs that predict tokens 1..k-1
        seen_all = torch.cat([seen_mask, rest_mask], dim=1)
        for rows in _tail_chunks(tails, seen_all.shape[1], self.token_budget):
            chunk = torch.tensor(rows, device=device)
            owners = index[chunk]
            chunk_tails = [tails[r] for r in rows]
            chunk_targets = [conts[r][1:] for r in rows]
            tail_mask = _pad([(1,) * len(t) for t in chunk_tails], device)
            tail_out = self._forward(
                decoder,
                _pad(chunk_tails, device),
                seen_all[owners],
                tail_mask,
                len(shared) + rest_lens[owners],
                _select_rows(out.past_key_values, owners),
            )
            real = tail_mask.bool()
            real_targets = _pad(chunk_targets, device, width=tail_mask.shape[1])[real]
            target_lp, target_is_argmax = _score_targets(head, tail_out.last_hidden_state[real], real_targets)
            token_lp = torch.zeros(tail_mask.shape, dtype=target_lp.dtype, device=device)
            token_lp[real] = target_lp
            misses = torch.zeros(tail_mask.shape, dtype=torch.bool, device=device)
            misses[real] = ~target_is_argmax
            greedy[chunk] &= ~misses.any(1)
            logprob[chunk] += token_lp.sum(1)
            self.stats.tokens_run += int(tail_mask.sum())
        self.stats.batches.append(len(conts))
        return {(batch[owner[n]].context, conts[n]): (float(logprob[n]), bool(greedy[n])) for n in range(len(conts))}

    @staticmethod
    def _forward(
        decoder: Any,
        ids: torch.Tensor,
        seen_mask: torch.Tensor,
        mask: torch.Tensor,
        start: Any,
        cache: Any,
    ) -> Any:
        """Forward ``ids`` after ``cache``; row r's first token sits at position ``start[r]``."""
        import torch

        positions = torch.as_tensor(start, device=ids.device).reshape(-1, 1) + torch.arange(
            ids.shape[1], device=ids.device
        )
        return decoder(
            input_ids=ids,
            attention_mask=torch.cat([seen_mask, mask], dim=1),
            position_ids=positions.expand_as(ids),
            past_key_values=cache,
            use_cache=True,
        )


def _score_targets(
    head: Any, hidden: torch.Tensor, targets: torch.Tensor, positions_per_chunk: int = 2048
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each target token and whether it is the argmax, the vocabulary projection
    taken a chunk of positions at a time (a 150k vocabulary in float32 is 0.6 MB per position)."""
    import torch

    logprobs, is_argmax = [], []
    for start in range(0, hidden.shape[0], positions_per_chunk):
        rows = torch.log_softmax(head(hidden[start : start + positions_per_chunk]).float(), dim=-1)
        wanted = targets[start : start + positions_per_chunk]
        logprobs.append(rows.gather(1, wanted[:, None])[:, 0])
        is_argmax.append(rows.argmax(-1) == wanted)
    return torch.cat(logprobs), torch.cat(is_argmax)


def _tail_chunks(tails: Sequence[Sequence[int]], seen: int, token_budget: int) -> list[list[int]]:
    """Row indices of non-empty ``tails``, longest first, cut so rows x (seen + width) fits the budget,
    little padding (see ``MIN_ROW_FILL``)."""
    order = sorted((r for r, t in enumerate(tails) if t), key=lambda r: -len(tails[r]))
    chunks: list[list[int]] = []
    for r in order:
        width = len(tails[chunks[-1][0]]) if chunks else 0
        rows = len(chunks[-1]) if chunks else 0
        fits = chunks and (rows + 1) * (seen + width) <= token_budget
        full_enough = rows * (seen + width) * 4 >= token_budget
        if fits and (len(tails[r]) >= MIN_ROW_FILL * width or not full_enough):
            chunks[-1].append(r)
        else:
            chunks.append([r])
    return chunks


def _select_rows(cache: Any, index: torch.Tensor) -> Any:
    """A copy of ``cache`` holding rows ``index`` (repeats allowed); ``cache`` is left untouched."""
    selected = copy.copy(cache)
    selected.layers = [copy.copy(layer) for layer in cache.layers]
    selected.reorder_cache(index)
    return selected


def _common_prefix(rows: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The longest shared leading tokens, leaving at least one token of every row unshared."""
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return tuple(first[:n])


def _pad(rows: Sequence[Sequence[int]], device: torch.device | str, width: int | None = None) -> torch.Tensor:
    """Right-pad integer rows with zeros into a ``[len(rows), width]`` long tensor (one host-to-device copy)."""
    import torch

    width = width if width is not None else max(len(r) for r in rows)
    out = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out.to(device)
