"""Batched generation on a loaded causal LM: greedy, as lm-eval's ``generate_until`` asks for it, and sampled
answers beside the greedy one for the knowledge probe.

- A prefix every prompt opens with (``truthfulqa_gen``'s six-question primer) runs once; its key/value cache is
  copied for the rows that need it.
- Prompts are prefilled in one forward per admission, rows right-padded, each row at its own positions under an
  attention mask, so a row sees exactly what it would see alone.
- Where a prompt wants S samples too, its prefilled row is copied into 1 + S rows (the samples share the prompt's
  prefill); row 0 decodes greedily, rows 1..S sample at a temperature (:class:`Sampling`).
- The rows are copied into the slots of one key/value cache allocated for the pass (:mod:`.decode_slots`).
  Then one token per row per step, chosen by argmax (or sampled); on a GPU the step is a replayed CUDA graph.
  Whether a row has stopped (an end-of-sequence token, or a stop sequence inside its last token or across its last
  two) is computed on the device every step, with no copy to the host. Every ``check_every`` steps the flagged
  rows are confirmed on the host (their text really holds a stop sequence) and leave, and waiting prompts take
  their slots (continuous batching).

A stop sequence spread over three or more tokens is never flagged on the device. Its row then runs on to
``max_new_tokens``: the text is the same, because the caller cuts it at the first stop sequence as lm-eval does;
only the time differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..utils import Progress, free_cpu_memory
from .forward_layout import ATTENTION_KERNELS, MIN_SHARED_PREFIX, PrefixCache, common_prefix, pad_rows, tree_mask
from .score_cache import GenerationCache

if TYPE_CHECKING:
    import torch

    from .decode_slots import Prefilled, SlotRows

log = logging.getLogger(__name__)


@dataclass
class StopTables:
    """Per vocabulary token, on the device: whether it ends a row by itself (an end-of-sequence id, or its text
    holds a stop sequence), and bit sets for stop sequences split over two tokens: bit ``b`` of ``tail[t]`` says
    t's text ends with the first part of split ``b``, bit ``b`` of ``head[t]`` that it starts with the second part.
    """

    ends: torch.Tensor
    tail: torch.Tensor
    head: torch.Tensor

    @classmethod
    def build(
        cls, token_texts: Sequence[str], stops: Sequence[str], eos_ids: Sequence[int], vocab: int, device: Any
    ) -> StopTables:
        """Tables for ``stops`` over a vocabulary of ``vocab`` ids whose first ``len(token_texts)`` decode alone
        to ``token_texts``."""
        import torch

        stops = [s for s in stops if s]
        splits = [(s[:k], s[k:]) for s in stops for k in range(1, len(s))][:63]  # bits of an int64
        ends = torch.zeros(vocab, dtype=torch.bool)
        tail = torch.zeros(vocab, dtype=torch.long)
        head = torch.zeros(vocab, dtype=torch.long)
        for token, text in enumerate(token_texts):
            if any(stop in text for stop in stops):
                ends[token] = True
            for bit, (first, second) in enumerate(splits):
                if text.endswith(first):
                    tail[token] |= 1 << bit
                if text.startswith(second):
                    head[token] |= 1 << bit
        ends[[i for i in eos_ids if 0 <= i < vocab]] = True
        return cls(ends.to(device), tail.to(device), head.to(device))

    def stopped(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Rows whose new token ``current`` (after ``previous``, -1 for none) ends them."""
        spans = (self.tail[previous.clamp(min=0)] & self.head[current]) != 0
        return self.ends[current] | (spans & (previous >= 0))


@dataclass
class GenerationStats:
    """What generation cost: sequences, prefill and generated tokens, forward passes, seconds."""

    sequences: int = 0
    prefill_tokens: int = 0
    generated_tokens: int = 0
    decode_steps: int = 0
    generation_seconds: float = 0.0
    largest_rows: int = 0
    out_of_memory: bool = False  # since then, rows are capped at half those that ran out of memory


@dataclass(frozen=True)
class Sampling:
    """``samples`` sampled answers beside each prompt's greedy one, at ``temperature``.

    A sample's tokens are drawn by the Gumbel-max trick (argmax of logits / T plus Gumbel noise, which draws from
    softmax(logits / T)) with noise hashed from (``seed``, the prompt, the sample's number, the position), so a
    sample depends on neither the batch it ran in nor its row there, and a cached sample equals a fresh one.
    """

    samples: int = 0
    temperature: float = 0.0
    seed: int = 0

    @property
    def width(self) -> int:
        """Rows per prompt: the greedy answer and the samples."""
        return 1 + self.samples

    def row_key(self, prompt: Sequence[int], row: int) -> int:
        """Row ``row`` of ``prompt``'s noise key: -1 for the greedy row 0, else a 62-bit hash."""
        if row == 0:
            return -1
        digest = hashlib.sha256(json.dumps([self.seed, list(prompt), row]).encode()).digest()
        return int.from_bytes(digest[:8], "little") >> 2

    def settings(self, row: int) -> dict[str, Any]:
        """How row ``row``'s answer was decoded (part of its cache key; the greedy row shares greedy answers')."""
        if row == 0:
            return {"decoding": "greedy"}
        return {"decoding": "sampled", "temperature": self.temperature, "seed": self.seed, "sample": row}


GREEDY = Sampling()

_MIX = (0x5851F42D4C957F2D, 0x14057B7EF767814F)  # odd multipliers below 2**63 (int64 products wrap)


def gumbel_noise(keys: torch.Tensor, positions: torch.Tensor, vocab: int) -> torch.Tensor:
    """Gumbel(0, 1) noise ``[rows, vocab]`` from a counter-based hash of (row key, position, token): the same
    inputs give the same noise on any batch layout. Uniforms have 24 bits, in (0, 1)."""
    import torch

    z = (keys[:, None] ^ (positions[:, None] * _MIX[0])) + torch.arange(vocab, device=keys.device) * _MIX[1]
    for shift, multiplier in ((29, _MIX[0]), (32, _MIX[1]), (29, None)):
        z = z ^ ((z >> shift) & ((1 << (64 - shift)) - 1))  # a logical shift
        if multiplier is not None:
            z = z * multiplier
    uniform = (((z >> 40) & 0xFFFFFF).float() + 0.5) * 2.0**-24
    return -torch.log(-torch.log(uniform))


def choose_tokens(
    logits: torch.Tensor, keys: torch.Tensor | None, positions: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Each row's next token: the argmax, or for a row with a key (>= 0) a draw from softmax(logits / T)."""
    import torch

    greedy = logits.max(-1).indices  # argmax's first maximum too, and faster on a CPU in bf16
    if keys is None or temperature == 0:
        return greedy
    noisy = logits.float() / temperature + gumbel_noise(keys, positions, logits.shape[-1])
    return torch.where(keys >= 0, noisy.argmax(-1), greedy)


def _prefill(
    decoder: Any,
    head: Any,
    prompts: Sequence[Sequence[int]],
    owners: list[int],
    prefix: tuple,
    tables: StopTables,
    sampling: Sampling,
) -> Prefilled:
    """Run ``prompts`` (those of ``owners``) after their shared prefix (``(tokens, cache for these rows)``), copy
    each into ``sampling.width`` rows, and choose their first answer tokens."""
    import torch

    from .decode_slots import Prefilled

    device = head.weight.device
    dtype = decoder.get_input_embeddings().weight.dtype
    shared, cache = prefix
    start = len(shared)
    rest = [list(p[start:]) for p in prompts]
    segments = pad_rows([[0] * len(r) for r in rest], device, fill=-1)
    out = decoder(
        input_ids=pad_rows(rest, device),
        position_ids=pad_rows([list(range(start, len(p))) for p in prompts], device),
        attention_mask=tree_mask(segments, start, dtype),
        cache=cache,
        use_cache=True,
    )
    last = torch.tensor([len(r) - 1 for r in rest], device=device)
    logits = head(out.last_hidden_state[torch.arange(len(prompts), device=device), last])
    positions = torch.tensor([len(p) for p in prompts], device=device)
    width = sampling.width
    index = None  # the cache stays one row a prompt: its rows are copied into their slots layer by layer
    if width > 1:
        index = torch.arange(len(prompts), device=device).repeat_interleave(width)
        logits, positions = logits[index], positions[index]
    keys = torch.tensor([sampling.row_key(p, row) for p in prompts for row in range(width)], device=device)
    token = choose_tokens(logits, keys if width > 1 else None, positions, sampling.temperature)
    flagged = tables.stopped(torch.full_like(token, -1), token)
    rows_of = [owner * width + row for owner in owners for row in range(width)]
    return Prefilled(out.cache, index, token, positions, flagged, keys, rows_of)


def _decode_step(decoder: Any, head: Any, rows: SlotRows, tables: StopTables, sampling: Sampling) -> Callable:
    """The step over the first ``n`` slots of ``rows``: feed each slot's token at its position, choose its next
    token, flag the rows it ends, advance. Slots whose position has run past the visible columns (free slots, or
    rows a few steps past their last answer token before they leave) write into the last of them, unread."""
    import torch

    dtype = decoder.get_input_embeddings().weight.dtype
    cache, window = rows.cache, rows.cache.window
    sampled = sampling.width > 1

    def step(n: int) -> None:
        positions = rows.positions[:n]
        columns = positions.clamp(max=window.visible - 1)
        window.columns = columns
        hidden = torch.arange(window.visible, device=columns.device) > columns[:, None]
        mask = torch.zeros(hidden.shape, dtype=dtype, device=hidden.device).masked_fill_(hidden, torch.finfo(dtype).min)
        out = decoder(
            input_ids=rows.token[:n, None],
            position_ids=columns[:, None],
            attention_mask=mask[:, None, None, :],
            cache=cache,
            use_cache=True,
        )
        logits = head(out.last_hidden_state[:, -1])
        token = choose_tokens(logits, rows.keys[:n] if sampled else None, positions + 1, sampling.temperature)
        rows.flagged[:n] |= tables.stopped(rows.token[:n], token)
        rows.token[:n] = token
        positions += 1

    return step


def _bucket(rows: int, extent: int) -> int:
    """Slots a step replayed as a CUDA graph runs over: the fewest of ``rows``, ``rows / 2``, ``rows / 4``, ...
    (rounded up) that hold the first ``extent`` slots, so that a pass captures few step graphs.

    >>> _bucket(256, 256), _bucket(256, 100), _bucket(256, 3), _bucket(100, 26)
    (256, 128, 4, 50)
    """
    size = rows
    while size > 1 and -(-size // 2) >= extent:
        size = -(-size // 2)
    return size


def _exact(rows: int, extent: int) -> int:
    """Slots an eager step runs over: the first ``extent``, no more (each slot costs its matmul row and its
    attention)."""
    return extent


def generate_rows(
    decoder: Any,
    head: Any,
    prompts: Sequence[Sequence[int]],
    *,
    prefix_for: Callable[[int], tuple],
    rows: int,
    max_new_tokens: int,
    tables: StopTables,
    confirm: Callable[[list[int]], bool],
    stats: GenerationStats,
    answers: dict[int, list[int]],
    sampling: Sampling = GREEDY,
    check_every: int = 8,
    progress: Progress | None = None,
) -> None:
    """Continuations of ``prompts`` (token ids), at most ``max_new_tokens`` each, into ``answers`` (answer ->
    tokens, answer ``n * sampling.width + j``: prompt ``n``'s greedy one at ``j = 0``, its samples after),
    decoding up to ``rows`` rows at a time in the slots of one key/value cache (:mod:`.decode_slots`).

    ``prefix_for(n)``: the tokens every prompt opens with and their key/value cache for ``n`` rows (or
    ``((), None)``). ``confirm(tokens)``: whether a row flagged by ``tables`` has really stopped. Every
    ``check_every`` steps finished rows leave and waiting prompts take their slots (continuous batching), so the
    rows stay full while answers of very different lengths finish; once none wait, the rows left move into the
    first slots and steps run over fewer. ``progress`` hears of the prompts done. An answer may run a few tokens
    past its stop: the caller cuts its text at the first stop sequence, as lm-eval does. A prompt whose answers
    are not all in ``answers`` runs again whole.
    """
    from .decode_slots import SlotCache, SlotRows, StepGraphs

    width = sampling.width
    rows = max(rows, width)
    stats.largest_rows = max(stats.largest_rows, rows)
    waiting = [n for n in range(len(prompts)) if any(n * width + j not in answers for j in range(width))]
    if not waiting:
        return
    columns = max(len(prompts[n]) for n in waiting) + max_new_tokens
    generated: dict[int, list[int]] = {}
    slots: SlotRows | None = None
    graphs: StepGraphs | None = None
    steps: list[torch.Tensor] = []
    while True:
        if slots is not None:
            _retire(slots, steps, generated, answers, confirm, max_new_tokens)
            steps = []
            if progress:
                progress.update(len(answers) // width, stats.generated_tokens)
        live = slots.live if slots else 0
        free = (rows - live) // width
        if waiting and free >= max(1, rows // width // 4):
            admitted, waiting = waiting[:free], waiting[free:]
            prefix = prefix_for(len(admitted))
            fresh = _prefill(decoder, head, [prompts[n] for n in admitted], admitted, prefix, tables, sampling)
            stats.prefill_tokens += sum(len(prompts[n]) - len(prefix[0]) for n in admitted)
            if slots is None:
                slots = SlotRows(SlotCache(fresh.cache, rows, columns), rows, head.weight.device)
                graphs = StepGraphs(_decode_step(decoder, head, slots, tables, sampling), head.weight.device)
            generated.update({owner: [t] for owner, t in zip(fresh.owners, fresh.token.tolist(), strict=True)})
            slots.admit(fresh)
            del fresh, prefix  # the prefill's own cache, now copied into the slots
            live = slots.live
        if not live:
            break
        span = _bucket if graphs.enabled else _exact  # a graph per shape; eager steps take any shape
        if not waiting and span(rows, live) < span(rows, slots.extent):
            slots.compact()
        n = span(rows, slots.extent)
        if not graphs.enabled:
            slots.cache.window.visible = min(columns, slots.reached() + check_every)
        for _ in range(check_every):
            graphs.run(n)
            steps.append(slots.token[:n].clone())
            stats.decode_steps += 1
            stats.generated_tokens += live
    stats.sequences += len(generated)


def _retire(
    slots: SlotRows,
    steps: list[torch.Tensor],
    generated: dict[int, list[int]],
    answers: dict[int, list[int]],
    confirm: Callable[[list[int]], bool],
    max_new_tokens: int,
) -> None:
    """Append the tokens of ``steps`` to each row's answer (one copy to the host), and move the rows that stopped
    (confirmed on the host) or reached ``max_new_tokens`` into ``answers``, freeing their slots."""
    import torch

    if not steps:
        return
    tokens_of = torch.stack(steps, dim=1).tolist()
    flagged = slots.flagged[: len(tokens_of)].tolist()
    done = []
    for slot, owner in enumerate(slots.owners[: len(tokens_of)]):
        if owner is None:
            continue
        tokens = generated[owner]
        tokens.extend(tokens_of[slot])
        if len(tokens) >= max_new_tokens or (flagged[slot] and confirm(tokens)):
            answers[owner] = tokens[:max_new_tokens]
            done.append(slot)
    slots.release(done)


# Generation settings a model's own generation_config may carry that change which token greedy decoding picks;
# where one is set, lm-eval's own path (transformers' ``generate``) runs instead of :func:`greedy_batch`.
_LOGITS_CHANGING = (
    "repetition_penalty",
    "encoder_repetition_penalty",
    "no_repeat_ngram_size",
    "bad_words_ids",
    "suppress_tokens",
    "begin_suppress_tokens",
    "min_length",
    "min_new_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "sequence_bias",
)
_NEUTRAL = (None, 0, 1.0, [], {})


def logits_changing_settings(generation_config: Any, request_kwargs: dict[str, Any]) -> list[str]:
    """What would make transformers' greedy ``generate`` pick other tokens than a plain argmax: a sampled
    request, request settings beyond ``do_sample``/``temperature``, or a processor in the model's config."""
    found = [f"do_sample={request_kwargs.get('do_sample')}"] if request_kwargs.get("do_sample") is not False else []
    found += [f"{key}={value}" for key, value in request_kwargs.items() if key not in ("do_sample", "temperature")]
    for name in _LOGITS_CHANGING:
        value = getattr(generation_config, name, None)
        if value not in _NEUTRAL and not (name == "min_length" and value == 0):
            found.append(f"generation_config.{name}={value}")
    return found


def rows_within_budget(prompt_length: int, token_budget: int, max_new_tokens: int) -> int:
    """Rows of a batch whose longest prompt has ``prompt_length`` tokens: as many as keep rows x (prompt + answer),
    the key/value cache the batch holds at its end, within ``token_budget``; at least one.

    >>> rows_within_budget(100, token_budget=1000, max_new_tokens=150), rows_within_budget(900, 1000, 256)
    (4, 1)
    """
    return max(1, token_budget // (prompt_length + max_new_tokens))


# Rows decoding together at most, where memory allows. A decode step of an 8B model is launch-bound, so more rows
# cost less each (bench/RESULTS.md, the short-answer probe at 256 and 1,024 rows).
MAX_ROWS = 1024
# On a CPU: more rows spread a step's fixed cost (the weights read once, Python dispatch) while each adds its own
# attention and memory (bench/RESULTS.md, CPU: a whole generation pass before and after).
CPU_MAX_ROWS = 256
# Tokens the rows' key/value cache holds at most (rows x (prompt + answer)): the truthfulqa_gen shape the 8B bench
# ran at (256 rows of 556 tokens); more rows of it ran out of memory with half the free memory for the cache (the
# admissions' transient copies). Short answers still get MAX_ROWS rows.
MAX_CACHED_TOKENS = 256 * 556
# Share of the free memory the rows' key/value cache may take (as the scorer's AUTO_MEMORY_SHARE): the rest
# holds the prefill's activations and what the allocator keeps aside.
MEMORY_SHARE = 0.5


def kv_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """Bytes of key/value cache one token takes in a decoder of ``config`` (a transformers config)."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * heads * head_dim * dtype_bytes


def rows_within_memory(
    free_bytes: int, bytes_per_token: int, prompt_length: int, max_new_tokens: int, *, most: int = MAX_ROWS
) -> int:
    """Rows whose key/value caches, each ``prompt_length + max_new_tokens`` tokens long, fit in :data:`MEMORY_SHARE`
    of ``free_bytes`` and hold at most :data:`MAX_CACHED_TOKENS`; between 1 and ``most``.

    >>> rows_within_memory(80 * 2**30, 147456, 500, 256), rows_within_memory(2**30, 147456, 500, 256)
    (188, 4)
    """
    row_tokens = prompt_length + max_new_tokens
    fitted = int(MEMORY_SHARE * free_bytes) // (bytes_per_token * row_tokens)
    return max(1, min(most, MAX_CACHED_TOKENS // row_tokens, fitted))


class BatchedGenerator:
    """lm-eval's ``generate_until`` for greedy requests on a loaded model, batched by :func:`generate_rows`, and
    the knowledge probe's sampled answers beside greedy ones (:meth:`sample_until`).

    ``lm``: the scorer (:class:`~.scoring.SharedPrefixLM`, an ``HFLM``): its tokenizer and tokenization choices,
    ``max_length``, ``max_gen_toks``, token budget, prefix cache and statistics. ``cache``: generations of this
    model by prompt and settings. Requests are handled as HFLM handles them: lm-eval's generation settings,
    its stop sequences plus the end-of-text token, prompts left-truncated to leave room for the answer, the text
    decoded without special tokens and cut at the first stop sequence.
    """

    def __init__(self, lm: Any, cache: GenerationCache, stats: GenerationStats) -> None:
        self.lm = lm
        self.cache = cache
        self.stats = stats
        self.row_cap: int | None = None  # after an out-of-memory error: half the rows that ran out

    def generate_until(self, requests: Sequence[Any]) -> list[str] | None:
        """Each request's answer, or ``None`` where a request is not plain greedy decoding (lm-eval's own
        generation path must run them: see :func:`logits_changing_settings`)."""
        from lm_eval.models.utils import normalize_gen_kwargs

        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(index)
        answers: list[str] = [""] * len(requests)
        for indices in groups.values():
            kwargs = normalize_gen_kwargs(requests[indices[0]].args[1], self.lm.max_gen_toks)
            until, max_new = self._stops(kwargs.pop("until", None)), kwargs.pop("max_gen_toks")
            unusual = logits_changing_settings(self.lm.model.generation_config, kwargs)
            if unusual or self.lm.think_end_token is not None:
                log.warning("lm-eval's own generation runs: %s", ", ".join(unusual) or "think_end_token")
                return None
            texts = self._answers([requests[i].args[0] for i in indices], until, max_new, GREEDY)
            for index, (text,) in zip(indices, texts, strict=True):
                answers[index] = text
        return answers

    def sample_until(
        self, contexts: Sequence[str], until: Sequence[str], max_new: int, sampling: Sampling
    ) -> list[list[str]]:
        """Each context's greedy answer and its ``sampling.samples`` samples (texts cut at the first of ``until``
        or the end-of-text token), cached per model as greedy answers are."""
        return self._answers(list(contexts), self._stops(list(until)), max_new, sampling)

    def _stops(self, until: Any) -> list[str]:
        """lm-eval's stop sequences of a request, its end-of-text token's text among them."""
        from lm_eval.models.utils import handle_stop_sequences

        return handle_stop_sequences(until, eos=self.lm.tok_decode(self.lm.eot_token_id, skip_special_tokens=False))

    def _answers(self, contexts: list[str], until: list[str], max_new: int, sampling: Sampling) -> list[list[str]]:
        from lm_eval.models.utils import postprocess_generated_text

        prompts = self._encode(contexts, self.lm.max_length - max_new)
        texts = []
        for rows in self._cached_or_generated(prompts, until, max_new, sampling):
            decoded = (self.lm.tok_decode(answer[: self._text_end(answer)]) for answer in rows)
            texts.append([postprocess_generated_text(text, until, None) for text in decoded])
        return texts

    @functools.cached_property
    def _eos_ids(self) -> set[int]:
        """Tokens that end a row: the model's end-of-sequence ids (transformers stops there) and lm-eval's
        end-of-text token (its text is one of lm-eval's stop sequences)."""
        configured = self.lm.model.generation_config.eos_token_id
        ids = configured if isinstance(configured, list) else [configured] if configured is not None else []
        return {*ids, self.lm.eot_token_id}

    def _text_end(self, answer: list[int]) -> int:
        return next((n for n, token in enumerate(answer) if token in self._eos_ids), len(answer))

    @functools.cached_property
    def _token_texts(self) -> list[str]:
        """Each vocabulary token's text alone (what :class:`StopTables` reads), decoded once per model."""
        return self.lm.tokenizer.batch_decode([[i] for i in range(len(self.lm.tokenizer))])

    def _encode(self, contexts: list[str], keep: int) -> list[tuple[int, ...]]:
        """Token ids of each context as HFLM's ``tok_batch_encode`` makes them, left-truncated to ``keep``."""
        from lm_eval.models.utils import has_bos_prefix

        lm = self.lm
        out = []
        for context in contexts:
            options = {}
            if has_bos_prefix(context, getattr(lm.tokenizer, "bos_token", None)):
                options = {"add_special_tokens": False}
            elif lm.add_bos_token is not None:
                options = {"add_special_tokens": lm.add_bos_token}
            out.append(tuple(lm.tokenizer(context, **options)["input_ids"][-keep:]))
        return out

    def _cached_or_generated(
        self, prompts: list[tuple[int, ...]], until: list[str], max_new: int, sampling: Sampling
    ) -> list[list[list[int]]]:
        """Each prompt's ``sampling.width`` answers (token ids), from the cache where all of them are there."""
        width = sampling.width
        keys = {
            (prompt, row): self.cache.key(
                prompt, json.dumps({"until": until, "max_gen_toks": max_new, **sampling.settings(row)}, sort_keys=True)
            )
            for prompt in set(prompts)
            for row in range(width)
        }
        found = self.cache.get_many(keys.values())
        missing = sorted(
            {p for p in prompts if any(found[keys[p, row]] is None for row in range(width))}, key=lambda p: (-len(p), p)
        )
        if missing:
            started = time.perf_counter()
            fresh = self._generate(missing, until, max_new, sampling)
            self.stats.generation_seconds += time.perf_counter() - started
            self.cache.put_many((keys[prompt, row], answer) for (prompt, row), answer in fresh.items())
            found.update({keys[prompt, row]: answer for (prompt, row), answer in fresh.items()})
        return [[found[keys[prompt, row]] for row in range(width)] for prompt in prompts]

    def _rows(self, prompt_length: int, max_new: int, decoder: Any) -> int:
        """Rows to decode together: under an ``auto`` token budget sized to the free memory (at most
        :data:`CPU_MAX_ROWS` on a CPU), else from the token budget; never more than :attr:`row_cap`."""
        import torch

        lm = self.lm
        on_gpu = lm.device.type == "cuda"
        free = None
        if lm.token_budget.auto:
            free = (
                torch.cuda.mem_get_info()[0] + torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
                if on_gpu
                else free_cpu_memory()
            )
        if free is not None:
            per_token = kv_bytes_per_token(lm.model.config, decoder.get_input_embeddings().weight.element_size())
            most = MAX_ROWS if on_gpu else CPU_MAX_ROWS
            rows = rows_within_memory(free, per_token, prompt_length, max_new, most=most)
        else:
            rows = rows_within_budget(prompt_length, lm.token_budget.current, max_new)
        return rows if self.row_cap is None else min(rows, self.row_cap)

    def _generate(
        self, prompts: list[tuple[int, ...]], until: list[str], max_new: int, sampling: Sampling
    ) -> dict[tuple, list[int]]:
        """The answers of ``prompts`` (longest first) by (prompt, row), as many rows at a time as the token budget
        holds; after an out-of-memory error the unfinished ones run again in half as many rows."""
        import torch
        from torch.nn.attention import SDPBackend, sdpa_kernel

        lm = self.lm
        decoder, head = lm._decoder_and_head()
        eos = self._eos_ids
        tables = StopTables.build(self._token_texts, until, sorted(eos), head.weight.shape[0], lm.device)
        stops = [s for s in until if s]

        def confirm(tokens: list[int]) -> bool:
            return any(t in eos for t in tokens) or any(s in lm.tok_decode(tokens) for s in stops)

        shared = common_prefix(prompts) if len(prompts) > 1 else ()
        shared = shared if len(shared) >= MIN_SHARED_PREFIX else ()

        def prefix_for(rows: int) -> tuple:
            cache, ran = lm._prefix.for_rows(decoder, shared, rows, lm.device) if shared else (None, 0)
            self.stats.prefill_tokens += ran
            return shared, cache

        answers: dict[int, list[int]] = {}
        progress = Progress("generating", len(prompts), "answers")
        with torch.inference_mode(), sdpa_kernel([getattr(SDPBackend, name) for name in ATTENTION_KERNELS]):
            while len(answers) < len(prompts) * sampling.width:
                rows = self._rows(len(prompts[0]), max_new, decoder)
                try:
                    generate_rows(
                        decoder,
                        head,
                        prompts,
                        prefix_for=prefix_for,
                        rows=rows,
                        max_new_tokens=max_new,
                        tables=tables,
                        confirm=confirm,
                        stats=self.stats,
                        answers=answers,
                        sampling=sampling,
                        progress=progress,
                    )
                except torch.cuda.OutOfMemoryError:
                    if rows <= sampling.width:
                        raise  # one prompt's rows do not fit
                    self.stats.out_of_memory = True
                    self.row_cap = rows // 2  # the answers finished so far are kept
                    torch.cuda.empty_cache()
        lm._prefix = PrefixCache()  # its memory back
        width = sampling.width
        return {(prompt, row): answers[n * width + row] for n, prompt in enumerate(prompts) for row in range(width)}
