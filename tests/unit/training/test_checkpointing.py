"""Gradient checkpointing sized to memory: the sizing rule, and the callback on a tiny model with fake counters."""

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from ll_hallucination_pipeline.training.checkpointing import (
    MEMORY_SHARE,
    AutoCheckpointing,
    checkpointed_layers,
    layers_to_keep,
)

GIB = 2**30


def _keep(**overrides):
    sizes = {
        "usable": 24 * GIB,
        "resting": 6 * GIB,
        "step_peak": 10 * GIB,
        "step_tokens": 8192,
        "max_tokens": 8192,
        "layer_bytes_per_token": GIB / 8192,  # one GiB per layer at a full micro-batch
        "candidates": 35,
    }
    return layers_to_keep(**(sizes | overrides))


def test_layers_fill_the_share_of_usable_memory_left_above_the_measured_peak():
    assert _keep() == int(MEMORY_SHARE * 24 - 10)  # the GiB spare below the share: that many one-GiB layers
    assert _keep(usable=80 * GIB) == 35  # a large card keeps them all (never more than there are)
    assert _keep(usable=12 * GIB) == 0  # the checkpointed step alone is over the share: keep none


def test_a_short_first_micro_batch_is_scaled_up_to_the_longest_possible():
    # Measured on half a micro-batch: the step's 4 GiB above rest is 8 at full length, and layers cost twice.
    assert _keep(step_tokens=4096, max_tokens=8192, layer_bytes_per_token=GIB / 8192) == int(
        (MEMORY_SHARE * 24 - 14) / 1
    )
    assert _keep(step_tokens=4096, max_tokens=8192) < _keep()


class FakeMemory:
    """Counters the test drives: ``allocated`` grows by what the probed layer's MLP is made to keep."""

    def __init__(self, usable: int, peak: int) -> None:
        self.now, self._usable, self._peak, self.resets = 0, usable, peak, 0

    def allocated(self) -> int:
        return self.now

    def peak(self) -> int:
        return self._peak

    def reset_peak(self) -> None:
        self.resets += 1

    def usable(self) -> int:
        return self._usable


def _tiny_model() -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=6,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
    )
    model = Qwen3ForCausalLM(config)
    model.activation_checkpointing_enable({"use_reentrant": False})
    return model.train()


def _gradients(model: Qwen3ForCausalLM, ids: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    model(input_ids=ids, labels=ids).loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_callback_keeps_the_measured_layer_and_as_many_more_as_fit():
    model = _tiny_model()
    ids = torch.randint(0, 64, (2, 8))
    checkpointed_gradients = _gradients(model, ids)
    layers = checkpointed_layers(model)
    assert len(layers) == 6

    per_token = 1000  # bytes the probed layer keeps per token beyond its output
    memory = FakeMemory(usable=100_000_000, peak=0)
    sizing = AutoCheckpointing(max_tokens=16, memory=memory)
    sizing.on_train_begin(None, None, None, model=model)
    assert memory.resets == 1 and not layers[0].gradient_checkpointing
    assert all(layer.gradient_checkpointing for layer in layers[1:])

    def keep_activations(module, args, output):
        memory.now += 16 * 16 * 4 + 16 * per_token  # the layer's float32 output and its saved activations

    hook = layers[0].mlp.register_forward_hook(keep_activations)
    first_step_gradients = _gradients(model, ids)
    hook.remove()
    # Room for two more layers: the share of usable memory above a resting, unchanged peak, 16 tokens x 1000 bytes.
    memory._usable = int((memory.now + 2.5 * 16 * per_token) / MEMORY_SHARE)
    memory._peak = memory.now
    sizing.on_step_end(None, None, None)
    assert sizing.kept == 3
    assert [layer.gradient_checkpointing for layer in layers] == [False, False, False, True, True, True]

    for got, want in zip(first_step_gradients, checkpointed_gradients, strict=True):
        torch.testing.assert_close(got, want)
    for got, want in zip(_gradients(model, ids), checkpointed_gradients, strict=True):
        torch.testing.assert_close(got, want)


def test_callback_without_checkpointed_layers_changes_nothing():
    model = _tiny_model()
    model.activation_checkpointing_disable()
    sizing = AutoCheckpointing(max_tokens=16, memory=FakeMemory(usable=1, peak=0))
    sizing.on_train_begin(None, None, None, model=model)
    sizing.on_step_end(None, None, None)
    assert sizing.kept == 0
