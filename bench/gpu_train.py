"""GPU training benchmark (issue D): the pipeline's QLoRA step on the 8B-shaped NF4 model, Alpaca.

On the lent GPU machine, after `python3 bench/gpu_eval.py setup` (the model and data):
    python3 bench/gpu_train.py VARIANT STEPS
runs `train_adapter` with configs/qlora_alpaca_10k.toml ("recipe") or qlora_alpaca_10k_fast.toml ("fast") limited to
STEPS optimizer steps ("all": the recipe's whole run), as written or changed by '+'-joined switches: "packed"
(padding-free packing), "liger" (liger_kernel), "varlen" (varlen_attention: attention per packed sequence), "nockpt"
(no gradient checkpointing), "autockpt" (gradient_checkpointing = "auto"), "noupcast" (upcast_unquantized = false),
"peftupcast" (the upcast as peft leaves it: embedding table and lm_head in float32 too), "mbN" (micro-batch N,
accumulation so a step still holds 16 sequences), "initN" (seed N for LoRA init and dropout, data order unchanged:
the noise between two runs of one recipe), "effvarlen" (varlen attention by the memory-efficient kernel, not
FlashAttention; "fp32varlen" the same in float32), "mathattn" (PyTorch's math attention kernel only),
"gradprobe" (keep step 1's LoRA gradients; `python3 bench/gpu_train.py compare-grads REFERENCE VARIANT...`
then compares them per module kind); e.g. "packed+liger+nockpt+mb2". Logs real tokens/s (the run's, and from step
1's end on), peak GPU memory and the loss curve (bench.jsonl and loss_<variant>.csv under $OUT). BENCH_PROFILE=1
also prints the top CUDA kernels; BENCH_CARD_GIB=23 leaves 23 GiB of the GPU free (a 24 GB card).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_eval import NF4, OUT, REPO, WORK, leave_card_of, log  # noqa: E402

RECIPES = {"recipe": "qlora_alpaca_10k.toml", "fast": "qlora_alpaca_10k_fast.toml"}


def bench_recipe(variant: str, steps: str) -> Path:
    switches = variant.split("+")
    text = (REPO / "configs" / RECIPES.get(switches[0], RECIPES["recipe"])).read_text()
    if steps != "all":
        text = re.sub(r"save_steps = \d+", f"save_steps = {10 * int(steps)}\nmax_steps = {steps}", text)
    for switch in switches:
        if switch == "packed":
            text = text.replace("packing = false", "packing = true")
        elif switch == "liger":
            text += "liger_kernel = true\n"
        elif switch == "varlen":
            text += "varlen_attention = true\n"
        elif switch == "nockpt":
            text += "gradient_checkpointing = false\n"
        elif switch == "autockpt":
            text += 'gradient_checkpointing = "auto"\n'
        elif switch == "noupcast":
            text += "upcast_unquantized = false\n"
        elif switch.startswith("mb"):
            micro = int(switch[2:])
            text = re.sub(r"micro_batch_size = \d+", f"micro_batch_size = {micro}", text)
            text = re.sub(r"gradient_accumulation = \d+", f"gradient_accumulation = {16 // micro}", text)
        elif switch.startswith("init"):
            use_init_seed(int(switch[4:]))
        elif switch == "peftupcast":
            keep_peft_upcast()
        elif switch in ("effvarlen", "fp32varlen"):
            use_efficient_varlen_kernel(in_float32=switch == "fp32varlen")
        elif switch == "mathattn":
            use_math_attention_only()
        elif switch == "gradprobe":
            save_first_gradients(WORK / f"grads_{variant}.pt")
        elif switch not in RECIPES:
            raise SystemExit(f"unknown switch {switch!r}")
    path = WORK / f"qlora_bench_{variant}.toml"
    path.write_text(text)
    return path


def use_init_seed(seed: int) -> None:
    """Train with ``seed`` for LoRA init and dropout while the data order stays that of the recipe's seed."""
    from ll_hallucination_pipeline import train

    sft_config = train._sft_config

    def with_init_seed(*args, **kwargs):
        config = sft_config(*args, **kwargs)
        config.seed = seed
        return config

    train._sft_config = with_init_seed


def keep_peft_upcast() -> None:
    """Leave the embedding table and lm_head in float32, as peft's kbit preparation does."""
    from ll_hallucination_pipeline import train

    train.store_upcast_tables_compactly = lambda model, dtype: None


def use_efficient_varlen_kernel(in_float32: bool) -> None:
    """Per-sequence attention by the memory-efficient kernel (the one plain trl's masked SDPA runs) instead of
    FlashAttention: the kernel's own variable-length form, over the packed sequences' boundaries; in autocast's
    dtype, or with ``in_float32`` in the dtype the query comes in (float32 under peft's upcast). The output goes
    on to o_proj as the pipeline's does (``attention_output_dtype``)."""
    import torch

    from ll_hallucination_pipeline import packed_attention

    def efficient_per_sequence(q, k, v, boundaries, longest, scale):
        autocast = torch.is_autocast_enabled("cuda") and not in_float32
        dtype = torch.get_autocast_dtype("cuda") if autocast else q.dtype
        batched = (t[None].to(dtype) for t in (q, k, v))  # [1, tokens, heads, dim]
        no_bias, no_dropout, causal_from_top_left, keep_logsumexp_for_backward = None, 0.0, 1, True
        bounds = (boundaries, boundaries, longest, longest)
        out = torch.ops.aten._efficient_attention_forward(
            *batched, no_bias, *bounds, no_dropout, causal_from_top_left, keep_logsumexp_for_backward, scale=scale
        )[0]
        return out[0]

    packed_attention.flash_per_sequence = efficient_per_sequence


def use_math_attention_only() -> None:
    """PyTorch's reference (math) attention kernel everywhere: plain trl with other rounding in attention."""
    import torch

    for enable in (
        torch.backends.cuda.enable_flash_sdp,
        torch.backends.cuda.enable_mem_efficient_sdp,
        torch.backends.cuda.enable_cudnn_sdp,
    ):
        enable(False)


def save_first_gradients(path: Path) -> None:
    """Keep the LoRA gradients of the first optimizer step before clipping (all runs start from the same weights)."""
    import torch
    from transformers import Trainer

    clip = Trainer._clip_grad_norm

    def keep_then_clip(trainer, model):
        if trainer.state.global_step == 0:
            grads = {n: p.grad.float().cpu() for n, p in model.named_parameters() if p.grad is not None}
            torch.save(grads, path)
        return clip(trainer, model)

    Trainer._clip_grad_norm = keep_then_clip


def module_kind(name: str) -> str:
    """'...layers.3.self_attn.q_proj.lora_B.default.weight' -> 'q_proj.B'."""
    return re.sub(r".*\.(\w+_proj)\.lora_(\w).*", r"\1.\2", name)


def compare_gradients(reference: str, *others: str) -> None:
    """Per LoRA module kind, each run's first-step gradients against the reference run's: L1 and L2 norm ratios
    and cosine similarity (what an Adam step of a few updates follows)."""
    import torch

    ref = torch.load(WORK / f"grads_{reference}.pt")
    kinds: dict[str, list[str]] = {}
    for name in ref:
        kinds.setdefault(module_kind(name), []).append(name)
    for other in others:
        grads = torch.load(WORK / f"grads_{other}.pt")
        for kind, names in sorted(kinds.items()):
            a = torch.cat([ref[n].flatten() for n in names])
            b = torch.cat([grads[n].flatten() for n in names])
            if not a.any():  # lora_A while lora_B is still zero
                continue
            log(
                {
                    "phase": "grads",
                    "run": other,
                    "reference": reference,
                    "module": kind,
                    "l1_ratio": round((b.abs().sum() / a.abs().sum()).item(), 5),
                    "l2_ratio": round((b.norm() / a.norm()).item(), 5),
                    "cosine": round(torch.nn.functional.cosine_similarity(a, b, dim=0).item(), 6),
                    "sign_agreement": round((a.sign() == b.sign()).float().mean().item(), 5),
                }
            )


def after_first_step(training_log: Path) -> float | None:
    """Real tokens/s from the end of step 1 to the last step (step 1 includes first-use tuning and sizing); of a
    resumed run, from the end of the first step after the resumption, where its clock started again."""
    from ll_hallucination_pipeline.train import ELAPSED

    rows = list(csv.DictReader(training_log.read_text().splitlines()))
    clock = [float(row[ELAPSED]) for row in rows]
    rows = rows[max((i for i in range(1, len(rows)) if clock[i] < clock[i - 1]), default=0) :]
    if len(rows) < 2:
        return None
    first, last = rows[0], rows[-1]
    tokens = float(last["num_tokens"]) - float(first["num_tokens"])
    return round(tokens / (float(last[ELAPSED]) - float(first[ELAPSED])), 1)


def main(variant: str, steps: str) -> None:
    import torch

    from ll_hallucination_pipeline.data import local_source, prepare_dataset
    from ll_hallucination_pipeline.model import QuantizationSettings
    from ll_hallucination_pipeline.train import TRAINING_LOG_NAME, train_adapter

    alpaca = WORK / "data/alpaca.jsonl"
    if not alpaca.exists():
        source = local_source("alpaca", REPO / ".bench-alpaca")
        prepare_dataset("alpaca", alpaca, WORK / "data/alpaca.manifest.json", source=source)
    out = WORK / f"adapter_{variant}"
    shutil.rmtree(out, ignore_errors=True)
    if "BENCH_CARD_GIB" in os.environ:
        leave_card_of(float(os.environ["BENCH_CARD_GIB"]))
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    if os.environ.get("BENCH_NO_CUDNN_SDPA") == "1":
        torch.backends.cuda.enable_cudnn_sdp(False)
    profile = os.environ.get("BENCH_PROFILE") == "1"
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) if profile else contextlib.nullcontext() as prof:
        manifest = train_adapter(
            bench_recipe(variant, steps),
            0,
            model_dir=NF4,
            data_file=alpaca,
            out_dir=out,
            work_dir=WORK / f"work_{variant}",
            quantization=QuantizationSettings(),
        )
    if profile:
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25), flush=True)
    loss_csv = OUT / f"loss_{variant.replace('+', '_')}_{steps}.csv"
    shutil.copyfile(out / TRAINING_LOG_NAME, loss_csv)
    log(
        {
            "phase": "train",
            "variant": variant,
            "cudnn_sdpa": torch.backends.cuda.cudnn_sdp_enabled(),
            "steps": manifest["global_steps"],
            "real_tokens": manifest["real_tokens"],
            "train_seconds": round(manifest["seconds"], 1),
            "real_tokens_per_s": round(manifest["tokens_per_second"], 1),
            "real_tokens_per_s_after_step_1": after_first_step(loss_csv),
            "wall_incl_load_s": round(time.perf_counter() - start, 1),
            "card_gib": os.environ.get("BENCH_CARD_GIB"),
            "layers_keeping_activations": manifest["layers_keeping_activations"],
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "train_loss": manifest["train_loss"],
        }
    )


if __name__ == "__main__":
    if sys.argv[1] == "compare-grads":
        compare_gradients(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
