"""A faster loglikelihood scorer behind lm-eval's ``LM`` interface.

:class:`SharedPrefixLM` is lm-eval's own ``HFLM`` (same tokenization, same request handling,
same generation) with ``_loglikelihood_tokens`` replaced: each distinct context is run once,
its key/value cache is shared by all of its continuations (and a prompt preamble shared by every context
runs once for all of them), and every result is stored in a
model-keyed :class:`~.score_cache.ScoreCache`, so a second seed or a re-run costs no forward pass.
Its tokenization is HFLM's, with each distinct string encoded once, in batches.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import _add_special_kwargs, has_bos_prefix

from ..utils import Progress
from .forward_layout import ATTENTION_KERNELS, MIN_SHARED_PREFIX, PrefixCache, common_prefix, pad_rows, tree_mask
from .generation import BatchedGenerator, GenerationStats, Sampling
from .score_cache import GenerationCache, Score, ScoreCache
from .token_budget import TokenBudget, TokenBudgetSetting

if TYPE_CHECKING:
    import torch

Request = tuple[tuple[str, str], list[int], list[int]]
Pair = tuple[tuple[int, ...], tuple[int, ...]]  # context and continuation token ids


@dataclass
class ScoringStats:
    """What one evaluation cost: requests served from the cache and forward-scored."""

    requests: int = 0
    cache_hits: int = 0
    scored: int = 0
    contexts_run: int = 0
    tokens_run: int = 0
    batches: list[int] = field(default_factory=list)
    largest_token_budget: int = 0
    peak_gpu_bytes: int = 0
    scoring_seconds: float = 0.0  # wall time of the forward passes and everything around them
    generation: GenerationStats = field(default_factory=GenerationStats)

    def as_dict(self) -> dict[str, Any]:
        g = self.generation
        return {
            "generated_sequences": g.sequences,
            "prefill_tokens": g.prefill_tokens,
            "generated_tokens": g.generated_tokens,
            "decode_steps": g.decode_steps,
            "generation_seconds": g.generation_seconds,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "scored": self.scored,
            "contexts_run": self.contexts_run,
            "tokens_run": self.tokens_run,
            "batches": len(self.batches),
            "scoring_seconds": self.scoring_seconds,
        }

    def gauges(self) -> dict[str, Any]:
        """Highs so far (not counts): the largest token budget used and peak GPU memory (0 on a CPU)."""
        return {
            "largest_token_budget": self.largest_token_budget,
            "largest_generation_rows": self.generation.largest_rows,
            "generation_out_of_memory": self.generation.out_of_memory,
            "peak_gpu_gib": round(self.peak_gpu_bytes / 2**30, 2),
        }


@dataclass
class _Group:
    """One context and the continuations scored after it, laid out as one row of a forward pass."""

    context: tuple[int, ...]
    continuations: list[tuple[int, ...]]

    @property
    def row_length(self) -> int:
        """The context, then each continuation but its last token (the inputs that predict it)."""
        return len(self.context) + sum(len(c) - 1 for c in self.continuations)


def _group_by_context(pairs: Sequence[Pair]) -> list[_Group]:
    groups: dict[tuple[int, ...], _Group] = {}
    for context, continuation in pairs:
        group = groups.setdefault(context, _Group(context, []))
        if continuation not in group.continuations:
            group.continuations.append(continuation)
    return sorted(groups.values(), key=lambda g: (-g.row_length, g.context))


# Once a forward holds a quarter of the token budget, a row shorter than this fraction of its widest
# starts the next one: padding stays small, and forwards (each with a fixed cost) stay few.
MIN_ROW_FILL = 0.9


def _next_batch_size(groups: list[_Group], start: int, token_budget: int) -> int:
    """How many groups from ``start`` (sorted by row length, longest first) make the next forward:
    at most ``token_budget`` padded tokens, little padding (see ``MIN_ROW_FILL``)."""
    width = groups[start].row_length
    n = 1
    while start + n < len(groups):
        too_big = (n + 1) * width > token_budget
        too_short = groups[start + n].row_length < MIN_ROW_FILL * width and n * width * 4 >= token_budget
        if too_big or too_short:
            break
        n += 1
    return n


@dataclass
class _Layout:
    """Token ids, positions, segments and scoring targets of one batch's rows (plain lists)."""

    ids: list[list[int]] = field(default_factory=list)
    positions: list[list[int]] = field(default_factory=list)
    segments: list[list[int]] = field(default_factory=list)  # 0 = context, k = continuation k
    target_rows: list[int] = field(default_factory=list)
    target_columns: list[int] = field(default_factory=list)
    target_tokens: list[int] = field(default_factory=list)
    target_owner: list[int] = field(default_factory=list)  # index of the continuation a target belongs to


def _layout(batch: list[_Group], start: int) -> _Layout:
    """Lay each group out as one row: context (after the shared prefix of length ``start``), then
    every continuation's inputs, each continuation positioned right after the context."""
    out = _Layout()
    owner = 0
    for row, group in enumerate(batch):
        rest = group.context[start:]
        ids, positions, segments = list(rest), list(range(start, len(group.context))), [0] * len(rest)
        for k, continuation in enumerate(group.continuations, start=1):
            column = len(ids)
            out.target_rows += [row] * len(continuation)
            out.target_columns += [len(rest) - 1] + list(range(column, column + len(continuation) - 1))
            out.target_tokens += continuation
            out.target_owner += [owner] * len(continuation)
            ids += continuation[:-1]
            positions += range(len(group.context), len(group.context) + len(continuation) - 1)
            segments += [k] * (len(continuation) - 1)
            owner += 1
        out.ids.append(ids)
        out.positions.append(positions)
        out.segments.append(segments)
    return out


class SharedPrefixLM(HFLM):
    """``HFLM`` whose loglikelihoods share each context's forward pass and a model-keyed cache.

    Parameters
    ----------
    model : transformers.PreTrainedModel or peft.PeftModel
        The loaded (possibly quantized, possibly adapted) causal LM.
    tokenizer : transformers.PreTrainedTokenizerBase
    cache : ScoreCache
        Results store; its fingerprint must identify ``model`` exactly.
    token_budget : int or "auto"
        Padded tokens per forward pass (rows x width), or sized to free GPU memory: see :mod:`.token_budget`.
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, cache: ScoreCache, token_budget: TokenBudgetSetting = "auto"
    ) -> None:
        super().__init__(pretrained=model, tokenizer=tokenizer, batch_size=1)
        self.score_cache = cache
        self.token_budget = TokenBudget(token_budget)
        self.stats = ScoringStats()
        self._encoded: dict[str, list[int]] = {}
        self._prefix = PrefixCache()
        self._generator: BatchedGenerator | None = None

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy answers batched on the loaded model (:class:`~.generation.BatchedGenerator`, cached per model);
        requests that are not plain greedy decoding go through HFLM's own ``generate_until``."""
        answers = self._batched_generator().generate_until(requests)
        return answers if answers is not None else super().generate_until(requests, disable_tqdm=True)

    def sample_until(
        self, contexts: Sequence[str], until: Sequence[str], max_new_tokens: int, sampling: Sampling
    ) -> list[list[str]]:
        """Each context's greedy answer and ``sampling.samples`` sampled ones, sharing the context's prefill (the
        knowledge probe's; see :meth:`~.generation.BatchedGenerator.sample_until`)."""
        return self._batched_generator().sample_until(contexts, until, max_new_tokens, sampling)

    def _batched_generator(self) -> BatchedGenerator:
        if self._generator is None:
            cache = GenerationCache(self.score_cache.directory.parent, self.score_cache.fingerprint)
            self._generator = BatchedGenerator(self, cache, self.stats.generation)
        return self._generator

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[Score]:
        """HFLM's, with every string it will tokenize encoded beforehand: each distinct one once (a context
        is shared by all its choices), in batches that the Rust tokenizer spreads over the CPU's cores."""
        self._encoded = self._encode_batched(_strings_to_encode(request.args for request in requests))
        try:
            return super().loglikelihood(requests, disable_tqdm=True)
        finally:
            self._encoded = {}

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, left_truncate_len: int | None = None, **kwargs: Any
    ) -> list[int]:
        """HFLM's encoding, taken from the batch encoded by :meth:`loglikelihood` where it holds ``string``."""
        if add_special_tokens is None and not left_truncate_len and not kwargs and string in self._encoded:
            return list(self._encoded[string])
        return super().tok_encode(string, add_special_tokens, left_truncate_len, **kwargs)

    def _encode_batched(self, strings: Iterable[str], batch_size: int = 1024) -> dict[str, list[int]]:
        """``strings`` encoded as HFLM's ``tok_encode(s)`` encodes each: lm-eval's own choice of special
        tokens per string, then the tokenizer on a batch of strings that take the same choice."""
        bos = self.tokenizer.decode(self.prefix_token_id)
        by_options: dict[bool, list[str]] = {}
        for string in strings:
            by_options.setdefault(has_bos_prefix(string, bos), []).append(string)
        encoded: dict[str, list[int]] = {}
        for starts_with_bos, group in by_options.items():
            options = _add_special_kwargs(None, self.add_bos_token)
            if starts_with_bos:
                options["add_special_tokens"] = False
            for start in range(0, len(group), batch_size):
                chunk = group[start : start + batch_size]
                encoded.update(zip(chunk, self.tokenizer(chunk, **options)["input_ids"], strict=True))
        return encoded

    def _loglikelihood_tokens(
        self, requests: list[Request], disable_tqdm: bool = False, override_bs: int | None = None
    ) -> list[Score]:
        pairs = [self._truncate(ctx, cont) for _, ctx, cont in requests]
        key_of = {pair: self.score_cache.key(*pair) for pair in pairs}
        keys = [key_of[pair] for pair in pairs]
        found = self.score_cache.get_many(set(keys))
        missing = [pair for pair, key in zip(pairs, keys, strict=True) if found[key] is None]
        self.stats.requests += len(requests)
        self.stats.cache_hits += len(requests) - len(missing)
        if missing:
            started = time.perf_counter()
            fresh = self._score_pairs(missing)
            self.stats.scoring_seconds += time.perf_counter() - started
            self.stats.scored += len(fresh)
            new_entries = {key_of[pair]: score for pair, score in fresh.items()}
            self.score_cache.put_many(new_entries.items())
            found.update(new_entries)
        return [found[key] for key in keys]  # type: ignore[misc]

    def _truncate(self, context: list[int], continuation: list[int]) -> Pair:
        """Left-truncate the context as HFLM does, so the pair fits ``max_length``."""
        keep = self.max_length + 1 - len(continuation)
        return tuple(context[-keep:] if keep < len(context) else context), tuple(continuation)

    def _score_pairs(self, pairs: list[Pair]) -> dict[Pair, Score]:
        """Score ``pairs`` forward by forward, widest rows first. On a GPU the first forward's memory
        sizes an ``auto`` budget; a forward that runs out of memory is retried at half the budget."""
        import torch
        from torch.nn.attention import SDPBackend, sdpa_kernel

        on_gpu = self.device.type == "cuda"
        measure = on_gpu and self.token_budget.auto
        groups = _group_by_context(pairs)
        budget = self.token_budget.at_call_start(measurable=on_gpu)
        results: dict[Pair, Score] = {}
        start = 0
        progress, tokens_before = Progress("scoring", len(pairs), "requests"), self.stats.tokens_run
        with torch.inference_mode(), sdpa_kernel([getattr(SDPBackend, name) for name in ATTENTION_KERNELS]):
            while start < len(groups):
                batch = groups[start : start + _next_batch_size(groups, start, budget)]
                out_of_memory = False
                try:
                    results.update(self._measured(batch) if measure and start == 0 else self._score_batch(batch))
                except torch.cuda.OutOfMemoryError:
                    out_of_memory = True  # handled outside the except block, which still holds the tensors
                if out_of_memory:
                    torch.cuda.empty_cache()
                    budget = self.token_budget.halve()
                    continue
                self.stats.largest_token_budget = max(self.stats.largest_token_budget, budget)
                budget = self.token_budget.current
                start += len(batch)
                progress.update(len(results), self.stats.tokens_run - tokens_before)
        self._prefix = PrefixCache()  # its memory back
        if on_gpu:
            self.stats.peak_gpu_bytes = max(self.stats.peak_gpu_bytes, torch.cuda.max_memory_allocated())
        return results

    def _measured(self, batch: list[_Group]) -> dict[Pair, Score]:
        """Score ``batch`` and resize the token budget from its peak GPU memory per padded token."""
        import torch

        torch.cuda.synchronize()
        self.stats.peak_gpu_bytes = max(self.stats.peak_gpu_bytes, torch.cuda.max_memory_allocated())
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        result = self._score_batch(batch)
        per_token = (torch.cuda.max_memory_allocated() - before) / (len(batch) * batch[0].row_length)
        free = torch.cuda.mem_get_info()[0] + torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
        self.token_budget.measured(per_token, free)
        return result

    def _decoder_and_head(self) -> tuple[Any, Any]:
        causal_lm = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        return causal_lm.get_decoder(), causal_lm.get_output_embeddings()

    def _score_batch(self, batch: list[_Group]) -> dict[Pair, Score]:
        """Score ``batch`` in one forward, after the one of its contexts' long shared prefix where the
        last batch did not already run that prefix.

        Each row holds a context and all of its continuations; the tree-shaped mask and explicit
        positions make every token attend to exactly what it would attend to unbatched.
        """
        import torch

        decoder, head = self._decoder_and_head()
        device = self.device
        shared = common_prefix([g.context for g in batch])
        if len(shared) < MIN_SHARED_PREFIX:
            shared = ()
        cache, prefix_tokens_run = self._prefix.for_rows(decoder, shared, len(batch), device) if shared else (None, 0)
        layout = _layout(batch, len(shared))
        segments = pad_rows(layout.segments, device, fill=-1)
        dtype = decoder.get_input_embeddings().weight.dtype
        hidden = decoder(
            input_ids=pad_rows(layout.ids, device),
            position_ids=pad_rows(layout.positions, device),
            attention_mask=tree_mask(segments, len(shared), dtype),
            cache=cache,
            use_cache=cache is not None,
        ).last_hidden_state
        rows = torch.tensor(layout.target_rows, device=device)
        columns = torch.tensor(layout.target_columns, device=device)
        target_lp, is_argmax = _score_targets(
            head, hidden[rows, columns], torch.tensor(layout.target_tokens, device=device)
        )
        # Summed per continuation on the CPU, in order: CUDA's index_add_ adds by atomics, in an order that
        # changes from run to run (1e-4 apart on the same GPU and inputs).
        owner = torch.tensor(layout.target_owner)
        conts = [c for g in batch for c in g.continuations]
        logprob = torch.zeros(len(conts), dtype=target_lp.dtype).index_add_(0, owner, target_lp.cpu())
        misses = torch.zeros(len(conts)).index_add_(0, owner, (~is_argmax).float().cpu())
        self.stats.contexts_run += len(batch)
        self.stats.tokens_run += prefix_tokens_run + sum(len(r) for r in layout.ids)
        self.stats.batches.append(len(conts))
        contexts = [g.context for g in batch for _ in g.continuations]
        logprob_list, greedy_list = logprob.tolist(), (misses == 0).tolist()
        return {(contexts[n], conts[n]): (logprob_list[n], greedy_list[n]) for n in range(len(conts))}


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


def _strings_to_encode(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """What HFLM's ``_encode_pair`` tokenizes for (context, continuation) pairs: each context without its
    trailing spaces (they move to the continuation), and context + continuation. Empty contexts take
    another path in lm-eval and are left out."""
    strings: set[str] = set()
    for context, continuation in pairs:
        if context:
            strings.update((context.rstrip(), context + continuation))
    return strings
