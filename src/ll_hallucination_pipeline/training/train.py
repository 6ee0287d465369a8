"""QLoRA SFT with trl's ``SFTTrainer`` and a peft LoRA on the 4-bit base, resumable from checkpoints."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from ..models import (
    MANIFEST_NAME,
    QuantizationSettings,
    load_model,
    load_tokenizer,
    sort_target_modules,
    tensor_shapes,
    weights_sha256,
)
from ..utils import (
    PipelineInputError,
    atomic_directory,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_text,
    best_device,
    package_versions,
    sha256_file,
)
from .lora_update import fuse_lora_updates
from .recipe import Recipe, load_recipe
from .sft_data import read_records, sft_examples
from .training_precision import cast_unquantized, store_upcast_tables_compactly

log = logging.getLogger(__name__)

TRAINING_LOG_NAME = "training_log.csv"
ELAPSED = "elapsed_s"  # training log column: seconds from the start (or resumption) of training to each step
RECIPE_NAME = "recipe.toml"


def sft_config(recipe: Recipe, seed: int, work_dir: Path, device: str, compute_dtype: str) -> Any:
    """trl's ``SFTConfig`` for ``recipe``'s training keys, the seed and the device's precision."""
    from trl import SFTConfig

    t = recipe.training
    on_gpu = device == "cuda"
    return SFTConfig(
        output_dir=str(work_dir),
        per_device_train_batch_size=t.micro_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of all steps
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        max_length=t.max_seq_length,
        packing=t.packing,
        completion_only_loss=True,
        seed=seed,
        data_seed=seed,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=2,
        logging_steps=1,
        report_to="none",
        use_cpu=not on_gpu,
        bf16=on_gpu and compute_dtype == "bfloat16",
        fp16=on_gpu and compute_dtype == "float16",
        gradient_checkpointing=on_gpu and bool(t.gradient_checkpointing),
        use_liger_kernel=on_gpu and t.liger_kernel,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def continue_token_count(log_history: list[dict[str, Any]], resumed_from: int) -> tuple[list[dict[str, Any]], float]:
    """The log with ``num_tokens`` counted on across a resumption (trl counts from zero again), and the count
    at the checkpoint resumed from."""
    before = max((e.get("num_tokens", 0) for e in log_history if e.get("step", 0) <= resumed_from), default=0)
    since = [i for i, e in enumerate(log_history) if e.get("step", 0) > resumed_from and "num_tokens" in e]
    if not since or log_history[since[0]]["num_tokens"] > before:  # not resumed, or counted on already
        return log_history, before
    history = list(log_history)
    for i in since:
        history[i] = history[i] | {"num_tokens": history[i]["num_tokens"] + before}
    return history, before


def mean_step_loss(log_history: list[dict[str, Any]]) -> float | None:
    """The mean training loss over every logged step of the run, the steps before a resumption included
    (the Trainer's own ``training_loss`` counts only the steps since)."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return sum(losses) / len(losses) if losses else None


def _training_log(log_history: list[dict[str, Any]]) -> str:
    columns = ("step", "loss", "learning_rate", "num_tokens", ELAPSED)
    lines = [",".join(columns)]
    for entry in log_history:
        if "loss" in entry:
            lines.append(",".join(str(entry.get(column, "")) for column in columns))
    return "\n".join(lines) + "\n"


CHECKPOINT_FILES = ("trainer_state.json", "adapter_model.safetensors")


def _checkpoint_problem(checkpoint: Path) -> str | None:
    """What makes a checkpoint unusable to resume from (a file missing, empty or unreadable), or ``None``."""
    for name in CHECKPOINT_FILES:
        if not (checkpoint / name).is_file():
            return f"{name} is missing"
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
        tensor_shapes([checkpoint / "adapter_model.safetensors"])
    except (ValueError, OSError) as exc:
        return f"a file is unreadable ({exc})"
    for state in sorted(checkpoint.glob("*.pt")) + sorted(checkpoint.glob("*.pth")):
        with open(state, "rb") as handle:
            if handle.read(2) != b"PK":  # torch.save's zip format
                return f"{state.name} is empty or truncated"
    return None


def last_usable_checkpoint(work_dir: Path) -> str | None:
    """The newest checkpoint in ``work_dir`` that can be resumed from; a damaged one (a kill during its save, a
    full disk) is skipped for the one before it, and said in the log."""
    checkpoints = sorted(work_dir.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True)
    for checkpoint in checkpoints:
        problem = _checkpoint_problem(checkpoint)
        if problem is None:
            return str(checkpoint)
        log.warning("skipping damaged checkpoint %s: %s", checkpoint, problem)
    return None


def resume_in_trained_dtypes(model: Any) -> None:
    """Make the Trainer's resumption load the checkpoint's adapter in the dtypes it is being trained in.

    trl trains a 4-bit model's LoRA weights in bf16, but peft's ``load_adapter`` (what the Trainer resumes
    through) upcasts an adapter to float32 by default: a resumed run would go on in other arithmetic than an
    uninterrupted one, and save a float32 adapter.
    """
    model.load_adapter = functools.partial(model.load_adapter, autocast_adapter_dtype=False)


def _check_gpu_switches(recipe: Recipe, recipe_file: str | Path) -> None:
    """Refuse, before loading anything, a GPU switch this installation cannot honour."""
    from .packed_attention import varlen_kernel_available

    if recipe.training.liger_kernel and importlib.util.find_spec("liger_kernel") is None:
        raise PipelineInputError(
            f"{recipe_file}: liger_kernel = true needs `pip install liger-kernel`; or set it false"
        )
    if recipe.training.varlen_attention and not varlen_kernel_available():
        raise PipelineInputError(
            f"{recipe_file}: varlen_attention = true needs torch.nn.attention.varlen (torch >= 2.9); or set it false"
        )


def train_adapter(
    recipe_file: str | Path,
    seed: int,
    *,
    model_dir: str | Path,
    data_file: str | Path,
    out_dir: str | Path,
    work_dir: str | Path,
    quantization: QuantizationSettings,
    model_sha256: str | None = None,
    heldout_file: str | Path | None = None,
    curve_points: int = 0,
) -> dict[str, Any]:
    """Train one (recipe, seed) adapter into ``out_dir``; checkpoints in ``work_dir`` make re-runs resume.

    ``model_sha256``: the base weights' hash where already known (see :mod:`.weights_hash`). ``heldout_file``:
    a knowledge mix's held-out slice; with it and ``curve_points`` > 0 the learning curve is written beside the
    adapter (:mod:`.learning_curve`).

    ``out_dir`` appears only when complete: the PEFT adapter files, the recipe as used, the loss per
    step (CSV) and a manifest (sha256 of data, base model and recipe; package versions; throughput).
    The model is loaded fresh here: on the CPU a no-grad eval forward of a 4-bit model repacks its
    weights and later training silently gets zero gradients.
    """
    from datasets import Dataset
    from peft import LoraConfig, prepare_model_for_kbit_training
    from trl import SFTTrainer

    from .checkpointing import AutoCheckpointing
    from .learning_curve import CURVE_NAME, LearningCurve, curve_table
    from .packed_attention import use_packed_varlen_attention
    from .step_clock import StepClock

    recipe = load_recipe(recipe_file)
    if seed not in recipe.training.seeds:
        raise PipelineInputError(f"seed {seed} is not in {recipe_file} [training] seeds={recipe.training.seeds}")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    device = best_device()
    if device == "cuda":
        _check_gpu_switches(recipe, recipe_file)
    effective = quantization.for_device(device)
    tokenizer = load_tokenizer(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    examples = sft_examples(recipe, data_file, tokenizer)  # every record checked before the model loads
    model = load_model(model_dir, quantization, device=device)
    if device == "cuda" and recipe.training.packing and recipe.training.varlen_attention:
        use_packed_varlen_attention(model)
    checkpointing = device == "cuda" and bool(recipe.training.gradient_checkpointing)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    if not recipe.training.upcast_unquantized:
        cast_unquantized(model, effective.compute_dtype)
    elif device == "cuda" and effective.compute_dtype != "float32":
        store_upcast_tables_compactly(model, effective.compute_dtype)
    sizing = None
    if checkpointing and recipe.training.gradient_checkpointing == "auto":
        sizing = AutoCheckpointing(recipe.training.micro_batch_size * recipe.training.max_seq_length)
    lora = LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules,
        task_type="CAUSAL_LM",
    )
    curve = None
    if heldout_file and curve_points > 0:
        train_records = read_records(data_file)[: recipe.data.num_examples]
        curve = LearningCurve(
            tokenizer,
            train_records,
            read_records(heldout_file),
            curve_points,
            work_dir / "learning_curve.jsonl",
            effective.compute_dtype,
        )
    trainer = SFTTrainer(
        model=model,
        args=sft_config(recipe, seed, work_dir, device, effective.compute_dtype),
        train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[StepClock(ELAPSED), *([sizing] if sizing else []), *([curve] if curve else [])],
    )
    if device == "cuda" and recipe.training.fused_lora_update:
        log.info("fused LoRA updates in %d layers", fuse_lora_updates(trainer.model))
    checkpoint = last_usable_checkpoint(work_dir)
    resumed_from = int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0
    if checkpoint:
        log.info("resuming from %s", checkpoint)
        resume_in_trained_dtypes(trainer.model)
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    history, tokens_before = continue_token_count(trainer.state.log_history, resumed_from)
    tokens_seen = max((e.get("num_tokens", 0) for e in history), default=0)
    manifest = {
        "recipe": recipe.name,
        "seed": seed,
        "recipe_sha256": sha256_file(recipe_file),
        "data_sha256": sha256_file(data_file),
        "base_model_path": str(model_dir),
        "base_model_sha256": model_sha256 or weights_sha256(model_dir),
        "quantization": effective.as_dict(),
        "gradient_checkpointing": recipe.training.gradient_checkpointing if checkpointing else False,
        "layers_keeping_activations": sizing.kept if sizing else None,
        "device": device,
        "global_steps": trainer.state.global_step,
        "resumed_from_step": resumed_from,
        "train_loss": mean_step_loss(history),
        "real_tokens": tokens_seen,
        "tokens_per_second": (tokens_seen - tokens_before) / seconds if seconds > 0 else None,
        "seconds": seconds,
        "learning_curve_seconds": curve.seconds if curve else None,
        "versions": package_versions(),
    }
    with atomic_directory(out_dir) as tmp:
        trainer.model.save_pretrained(tmp)
        sort_target_modules(tmp)
        shutil.copyfile(recipe_file, tmp / RECIPE_NAME)
        atomic_write_text(tmp / TRAINING_LOG_NAME, _training_log(history))
        atomic_write_json(tmp / MANIFEST_NAME, manifest)
        if curve:
            atomic_write_csv(tmp / CURVE_NAME, curve_table(curve.log_file))
    shutil.rmtree(work_dir, ignore_errors=True)
    return manifest
