"""Does varlen attention change what packed training computes, or only its rounding? (issue D, CPU, float32)

    uv run python bench/cpu_packed_training.py

Trains a tiny random Qwen3 with LoRA on all linear layers for a few AdamW steps on trl's padding-free batches
(several sequences per row), twice from the same seed: with transformers' dense block-diagonal mask (plain trl's
path) and with the pipeline's per-sequence attention (`use_packed_varlen_attention`), its FlashAttention kernel
stood in for by per-sequence float32 SDPA. Prints both loss curves and their largest difference: equal curves mean
the two paths attend the same tokens and pass the same gradients, so a gap on the GPU is the kernels' arithmetic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import Qwen3Config, Qwen3ForCausalLM

from ll_hallucination_pipeline import packed_attention

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import packed_training_losses, per_sequence_attention  # noqa: E402

VOCAB, STEPS, ROWS = 200, 6, 4


def float32_per_sequence(q, k, v, boundaries, longest, scale):
    """Stands in for FlashAttention: each sequence attends causally to itself, in the inputs' dtype (float32 here)."""
    return per_sequence_attention(q, k, v, boundaries, boundaries, longest, longest, scale=scale, is_causal=True)


def loss_curve(per_sequence: bool) -> list[float]:
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=VOCAB,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=16,
        use_cache=False,
        attn_implementation="sdpa",
    )
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0)
    model = get_peft_model(Qwen3ForCausalLM(config), lora)
    if per_sequence:
        packed_attention.use_packed_varlen_attention(model)
    return packed_training_losses(model, [2e-3] * STEPS, rows=ROWS, lengths=(5, 60), vocab=VOCAB, autocast=False)


def main() -> None:
    packed_attention.flash_per_sequence = float32_per_sequence
    dense, per_sequence = loss_curve(per_sequence=False), loss_curve(per_sequence=True)
    print("dense block-diagonal mask:", [round(x, 6) for x in dense])
    print("per-sequence attention:   ", [round(x, 6) for x in per_sequence])
    print("largest difference:", max(abs(a - b) for a, b in zip(dense, per_sequence, strict=True)))


if __name__ == "__main__":
    main()
