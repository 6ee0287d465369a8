"""Gradient checkpointing sized to the GPU: decoder layers keep their activations while memory allows.

With ``gradient_checkpointing = "auto"`` every decoder layer starts checkpointed but the first, whose forward
hooks measure what keeping a layer's activations costs per token during the first optimizer step. After that
step as many more layers keep theirs as fit within ``MEMORY_SHARE`` of the memory this process can use, the
step's own activations scaled up to a full micro-batch. A 24 GB card keeps a few layers, an 80 GB card most.
Checkpointing changes no result: a recomputed layer replays its forward, dropout included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from transformers import TrainerCallback

log = logging.getLogger(__name__)

# Of the memory this process can use: the predicted peak stays below it (on a 24 GB card the study stays under
# 20 GiB, bench/RESULTS.md).
MEMORY_SHARE = 0.75


class Memory(Protocol):
    """The GPU memory counters the sizing reads (bytes)."""

    def allocated(self) -> int: ...
    def peak(self) -> int: ...
    def reset_peak(self) -> None: ...
    def usable(self) -> int: ...


class CudaMemory:
    """:class:`Memory` of the current CUDA device; ``usable`` is free memory plus what torch already holds."""

    def allocated(self) -> int:
        import torch

        return torch.cuda.memory_allocated()

    def peak(self) -> int:
        import torch

        return torch.cuda.max_memory_allocated()

    def reset_peak(self) -> None:
        import torch

        torch.cuda.reset_peak_memory_stats()

    def usable(self) -> int:
        import torch

        return torch.cuda.mem_get_info()[0] + torch.cuda.memory_reserved()


def layers_to_keep(
    *,
    usable: int,
    resting: int,
    step_peak: int,
    step_tokens: int,
    max_tokens: int,
    layer_bytes_per_token: float,
    candidates: int,
    share: float = MEMORY_SHARE,
) -> int:
    """How many more layers may keep their activations with the predicted peak within ``share * usable``.

    The measured step's memory above ``resting`` is scaled from its largest micro-batch (``step_tokens``) to
    ``max_tokens``, the largest a micro-batch can be; each kept layer adds ``layer_bytes_per_token`` per token.
    """
    predicted_peak = resting + (step_peak - resting) * max_tokens / step_tokens
    per_layer = layer_bytes_per_token * max_tokens
    spare = share * usable - predicted_peak
    if spare <= 0 or per_layer <= 0:
        return 0
    return min(candidates, int(spare // per_layer))


class _LayerProbe:
    """Forward hooks on one layer that keeps its activations: the memory its forward leaves behind, per token."""

    def __init__(self, layer: Any, allocated: Callable[[], int]) -> None:
        self.allocated = allocated
        self.bytes_per_token = 0.0
        self.max_tokens = 0
        self._before = 0
        self._tokens = 0
        self._handles = [
            layer.register_forward_pre_hook(self._before_forward, with_kwargs=True),
            layer.register_forward_hook(self._after_forward),
        ]

    def _before_forward(self, module: Any, args: tuple, kwargs: dict) -> None:
        hidden = args[0] if args else kwargs["hidden_states"]
        self._tokens = hidden.numel() // hidden.shape[-1]
        self._before = self.allocated()

    def _after_forward(self, module: Any, args: tuple, output: Any) -> None:
        hidden = output[0] if isinstance(output, tuple) else output
        # beyond its output, which a checkpointed layer keeps as well
        kept = self.allocated() - self._before - hidden.numel() * hidden.element_size()
        self.bytes_per_token = max(self.bytes_per_token, kept / self._tokens)
        self.max_tokens = max(self.max_tokens, self._tokens)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def checkpointed_layers(model: Any) -> list[Any]:
    """The decoder layers of ``model`` that gradient checkpointing recomputes, in order."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer) and m.gradient_checkpointing]


class AutoCheckpointing(TrainerCallback):
    """Trainer callback for ``gradient_checkpointing = "auto"``: measure on the first step, then keep what fits."""

    def __init__(self, max_tokens: int, memory: Memory | None = None) -> None:
        self.max_tokens = max_tokens
        self.memory = memory or CudaMemory()
        self.layers: list[Any] = []
        self.kept = 0
        self._probe: _LayerProbe | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.layers = checkpointed_layers(model)
        if not self.layers:
            log.warning("gradient_checkpointing = auto: no checkpointed decoder layers in this model; nothing to size")
            return
        self.layers[0].gradient_checkpointing = False
        self.kept = 1
        self._probe = _LayerProbe(self.layers[0], self.memory.allocated)
        self.memory.reset_peak()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._probe is None:
            return
        probe, self._probe = self._probe, None
        probe.remove()
        more = layers_to_keep(
            usable=self.memory.usable(),
            resting=self.memory.allocated(),
            step_peak=self.memory.peak(),
            step_tokens=probe.max_tokens,
            max_tokens=self.max_tokens,
            layer_bytes_per_token=probe.bytes_per_token,
            candidates=len(self.layers) - self.kept,
        )
        for layer in self.layers[self.kept : self.kept + more]:
            layer.gradient_checkpointing = False
        self.kept += more
        log.info(
            "gradient_checkpointing = auto: %d of %d decoder layers keep their activations (%.1f MiB per layer "
            "per 1k tokens measured; micro-batches up to %d tokens)",
            self.kept,
            len(self.layers),
            probe.bytes_per_token * 1000 / 2**20,
            self.max_tokens,
        )
