"""Rows decoding in fixed slots: one key/value cache allocated for the whole pass, and a decode step that keeps
its shapes, so that on a GPU it runs as one replayed CUDA graph.

Slot ``s`` holds one row: its keys and values at columns ``0 .. position - 1`` (a prompt is prefilled
right-padded after its shared prefix, so its tokens are contiguous from column 0 and a token's column is its
position), its last token, next position, stop flag and noise key. A step feeds every slot of the first ``n``,
writes each new key and value at its row's own column, and lets each row attend to its columns up to that one.
Free slots decode too, unseen: their results are never read, and they make a step's shapes independent of how
many rows are live. A decode step of a large model is otherwise bound by launching its thousands of kernels one
by one from Python (bench/RESULTS.md, where a decode step's time goes); replayed as a graph, it is launched once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transformers.cache_utils import Cache, CacheLayerMixin

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass
class StepWindow:
    """Where the current decode step writes (``columns``, one per row) and how many columns it attends to
    (``visible``), shared by a cache's layers; ``row_index``: 0, 1, ... per slot."""

    row_index: torch.Tensor
    visible: int
    columns: torch.Tensor | None = None


class SlotLayer(CacheLayerMixin):
    """One decoder layer's keys and values ``[slots, heads, columns, dim]``; a decode step writes row ``r``'s new
    key and value at column ``window.columns[r]`` and returns the first ``rows`` slots' visible columns. (The
    layer holds the window, not its cache: no reference cycle keeps a finished pass's tensors alive.)"""

    is_sliding = False

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, window: StepWindow) -> None:
        super().__init__()
        self.keys, self.values, self.window = keys, values, window
        self.is_initialized = True

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        """Never called: the tensors exist from the start."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any) -> tuple:
        rows, window = key_states.shape[0], self.window
        slots, columns = window.row_index[:rows], window.columns
        keys, values = self.keys[:rows], self.values[:rows]
        keys[slots, :, columns] = key_states[:, :, 0]  # an indexed write: scatter_ copies far more on a CPU
        values[slots, :, columns] = value_states[:, :, 0]
        return keys[:, :, : window.visible], values[:, :, : window.visible]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.keys.shape[2], 0

    def get_seq_length(self) -> int:
        return self.keys.shape[2]

    def get_max_length(self) -> int:
        return self.keys.shape[2]


class SlotCache(Cache):
    """The key/value cache of ``slots`` rows of ``columns`` tokens each, for every layer of a decoder; shaped after
    a prefill's cache (its layers, heads, head size, dtype and device). Its ``window``: where this step writes, and
    the first columns it attends to (all of them in a CUDA graph; on a CPU, those the live rows have reached, as
    reading the rest would cost as much as a short row's attention itself)."""

    def __init__(self, like: Any, slots: int, columns: int) -> None:
        import torch

        self.window = StepWindow(torch.arange(slots, device=like.layers[0].keys.device), columns)
        layers = []
        for layer in like.layers:
            _, heads, _, dim = layer.keys.shape
            keys = layer.keys.new_zeros((slots, heads, columns, dim))
            values = layer.values.new_zeros((slots, heads, columns, layer.values.shape[3]))
            layers.append(SlotLayer(keys, values, self.window))
        super().__init__(layers=layers)

    @property
    def width(self) -> int:
        """Columns per slot."""
        return self.layers[0].keys.shape[2]

    def place(self, slots: torch.Tensor, prefill: Any, rows: torch.Tensor | None = None) -> None:
        """Copy row ``rows[i]`` (``None``: row ``i``) of a prefill's cache (``[prompts, heads, width, dim]`` per
        layer) into slot ``slots[i]``, one layer at a time (a prompt's copies for its samples never exist all at
        once)."""
        for layer, new in zip(self.layers, prefill.layers, strict=True):
            width = new.keys.shape[2]
            keys, values = new.keys, new.values
            if rows is not None:
                keys, values = keys.index_select(0, rows), values.index_select(0, rows)
            layer.keys[:, :, :width].index_copy_(0, slots, keys)
            layer.values[:, :, :width].index_copy_(0, slots, values)

    def move(self, source: torch.Tensor, target: torch.Tensor) -> None:
        """Copy the slots ``source`` into the slots ``target`` (disjoint)."""
        for layer in self.layers:
            layer.keys.index_copy_(0, target, layer.keys[source])
            layer.values.index_copy_(0, target, layer.values[source])


class StepGraphs:
    """A decode step over the first ``n`` slots, run as a CUDA graph captured per ``n`` where the device is a GPU
    and the step can be captured; run eagerly otherwise.

    ``step(n)`` must read and write only tensors that live as long as this object (a replay repeats the
    captured kernels on the same memory). The first step at each ``n`` runs eagerly on a side stream (a real step,
    which also warms up the libraries' lazy state), the capture follows; a step that cannot be captured is logged
    once and runs eagerly from then on.
    """

    def __init__(self, step: Callable[[int], None], device: torch.device) -> None:
        self.step = step
        self.enabled = device.type == "cuda"
        self.graphs: dict[int, Any] = {}
        self.pool: Any = None

    def run(self, n: int) -> None:
        """One decode step over the first ``n`` slots."""
        import torch

        if not self.enabled:
            self.step(n)
            return
        graph = self.graphs.get(n)
        if graph is not None:
            graph.replay()
            return
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.step(n)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.pool = self.pool or torch.cuda.graph_pool_handle()
        try:
            with torch.cuda.graph(graph, pool=self.pool):
                self.step(n)
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as error:  # an operation the model runs cannot be captured
            log.warning("decode steps run without CUDA graphs: %s", error)
            self.enabled = False
            return
        self.graphs[n] = graph


@dataclass
class Prefilled:
    """Prompts after their prefill, each to be copied into one or more rows: the prompts' key/value cache (a
    prompt's tokens contiguous from column 0), each row's prompt in it (``None``: one row a prompt), and the rows'
    first answer tokens, positions, stop flags, noise keys and answer numbers."""

    cache: Any
    prompt_of: torch.Tensor | None
    token: torch.Tensor
    positions: torch.Tensor
    flagged: torch.Tensor
    keys: torch.Tensor
    owners: list[int]


class SlotRows:
    """What each slot decodes: its last token, next position, stop flag (set once a token ends it, until it
    leaves), noise key (-1: greedy) and the answer it writes (``None``: a free slot); the tensors live on the
    device for the whole pass, the owners on the host."""

    def __init__(self, cache: SlotCache, slots: int, device: torch.device) -> None:
        import torch

        self.cache = cache
        self.token = torch.zeros(slots, dtype=torch.long, device=device)
        self.positions = torch.zeros(slots, dtype=torch.long, device=device)
        self.flagged = torch.zeros(slots, dtype=torch.bool, device=device)
        self.keys = torch.full((slots,), -1, dtype=torch.long, device=device)
        self.owners: list[int | None] = [None] * slots

    def _per_slot(self) -> tuple[torch.Tensor, ...]:
        """The tensors holding one value per slot."""
        return self.token, self.positions, self.flagged, self.keys

    @property
    def live(self) -> int:
        """Slots with a row in them."""
        return sum(owner is not None for owner in self.owners)

    @property
    def extent(self) -> int:
        """One past the last slot with a row in it."""
        return max((s + 1 for s, owner in enumerate(self.owners) if owner is not None), default=0)

    def admit(self, rows: Prefilled) -> None:
        """Put prefilled rows (their cache, first tokens, ...) into the lowest free slots."""
        import torch

        free = [s for s, owner in enumerate(self.owners) if owner is None][: len(rows.owners)]
        index = torch.tensor(free, dtype=torch.long, device=self.token.device)
        self.cache.place(index, rows.cache, rows.prompt_of)
        for mine, new in zip(self._per_slot(), (rows.token, rows.positions, rows.flagged, rows.keys), strict=True):
            mine.index_copy_(0, index, new)
        for slot, owner in zip(free, rows.owners, strict=True):
            self.owners[slot] = owner

    def release(self, slots: list[int]) -> None:
        """Free ``slots``: their rows have left (their positions back to 0, so that they need no columns)."""
        for slot in slots:
            self.owners[slot] = None
        if slots:
            self.positions[slots] = 0

    def reached(self) -> int:
        """The furthest position a live row has reached (one copy from the device)."""
        live = [s for s, owner in enumerate(self.owners) if owner is not None]
        return int(self.positions[live].max()) if live else 0

    def compact(self) -> None:
        """Move the rows of slots past the first ``live`` into the free slots among them."""
        import torch

        live = self.live
        source = [s for s in range(live, len(self.owners)) if self.owners[s] is not None]
        if not source:
            return
        target = [s for s in range(live) if self.owners[s] is None]
        device = self.token.device
        source_index, target_index = (torch.tensor(s, dtype=torch.long, device=device) for s in (source, target))
        self.cache.move(source_index, target_index)
        for tensor in self._per_slot():
            tensor.index_copy_(0, target_index, tensor[source_index])
        for s, t in zip(source, target, strict=True):
            self.owners[t], self.owners[s] = self.owners[s], None
