"""How rows of token ids become one forward pass: padding, positions, the tree-shaped attention mask, and the
key/value cache of a prefix every row shares. Used by the scorer and by greedy generation."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# A prefix shared by a whole batch is run once, ahead of its rows, when it is at least this long
# (TruthfulQA's six-question preamble); shorter ones are not worth a forward of their own.
MIN_SHARED_PREFIX = 32
# Attention kernels the scorer and generation let PyTorch choose from: all but cuDNN's, which builds a kernel
# for every shape new to the process while their forwards bring one new shape after another; warm, it is no
# faster than the memory-efficient kernel (bench/gpu_layers.py first; figures in bench/RESULTS.md).
ATTENTION_KERNELS = ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH")


def tree_mask(segments: torch.Tensor, prefix: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention mask ``[rows, 1, width, prefix + width]``: every token sees the shared prefix;
    context tokens see earlier context; a continuation's tokens see the context and their own earlier
    tokens, never another continuation. Padding (segment -1) sees only itself."""
    import torch

    rows, width = segments.shape
    causal = torch.ones((width, width), dtype=torch.bool, device=segments.device).tril()
    query, key = segments[:, :, None], segments[:, None, :]
    allowed = causal & (key >= 0) & (query >= 0) & ((key == 0) | (key == query))
    allowed |= torch.eye(width, dtype=torch.bool, device=segments.device)
    allowed = torch.cat([allowed.new_ones((rows, width, prefix)), allowed], dim=2)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segments.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)[:, None]


@dataclass
class PrefixCache:
    """The key/value cache of the shared prefix run last. The next batch with the same prefix (every batch
    of a task whose prompts all open alike, as TruthfulQA's preamble does) starts from a copy of it."""

    tokens: tuple[int, ...] = ()
    cache: Any = None

    def for_rows(self, decoder: Any, tokens: tuple[int, ...], rows: int, device: Any) -> tuple[Any, int]:
        """A cache of ``tokens`` for ``rows`` rows, and how many tokens a forward ran to make it (0: reused)."""
        import torch

        ran = 0
        if tokens != self.tokens:
            self.cache = decoder(
                input_ids=torch.tensor([tokens], device=device),
                position_ids=torch.arange(len(tokens), device=device)[None],
                use_cache=True,
            ).cache
            self.tokens, ran = tokens, len(tokens)
        cache = copy.deepcopy(self.cache)  # the forward appends the rows' keys and values to its cache
        for layer in cache.layers:  # views of the one row: the forward's concatenation makes each row's copy
            layer.keys = layer.keys.expand(rows, -1, -1, -1)
            layer.values = layer.values.expand(rows, -1, -1, -1)
        return cache, ran


def common_prefix(rows: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The longest shared leading tokens, leaving at least one token of every row unshared."""
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return tuple(first[:n])


def pad_rows(rows: Sequence[Sequence[int]], device: torch.device | str, fill: int = 0) -> torch.Tensor:
    """Right-pad integer rows with ``fill`` into one ``[len(rows), widest]`` long tensor (one host-to-device copy)."""
    import torch

    out = torch.full((len(rows), max(len(r) for r in rows)), fill, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out.to(device)
