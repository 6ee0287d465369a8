"""Learning curves of a knowledge mix (Gekhman et al. 2024, Fig. 1): at a few points of training, the share of
training examples the model fits and its accuracy on the pool's held-out slice, per knowledge category.

"Fits" means greedy decoding reproduces the answer: under teacher forcing every answer token is the argmax, which
one forward per example tells. Held-out accuracy is the same test on examples the mix never trains on. On the CPU
those forwards run through a copy of the model in the scorer's layers (:class:`~..models.scoring_copy.ScoringCopy`),
with the numbers the adapter is later evaluated with.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..models import ScoringCopy, torch_dtype
from .recipe import format_prompt

BATCH = 16  # examples per forward of a curve point
CURVE_NAME = "fit_by_category.csv"


def curve_steps(max_steps: int, points: int) -> list[int]:
    """Steps after which a point is taken: ``points`` evenly spaced up to the last (0, before training, too)."""
    return sorted({0, *(round(max_steps * i / points) for i in range(1, points + 1))})


def answer_fitted(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> list[bool]:
    """For each (prompt, answer), whether every answer token is the model's argmax after the tokens before it.

    Examples run in batches of similar length (little padding), and the output head, a large share of a small
    model's forward, runs on the answer positions only."""
    import torch

    device = next(model.parameters()).device
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = causal.get_decoder(), causal.get_output_embeddings()
    encoded = [
        (tokenizer(prompt)["input_ids"], tokenizer(answer, add_special_tokens=False)["input_ids"])
        for prompt, answer in pairs
    ]
    fitted = [False] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda n: len(encoded[n][0]) + len(encoded[n][1]))
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        width = max(len(encoded[n][0]) + len(encoded[n][1]) for n in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros_like(ids)
        rows, positions, targets = [], [], []
        for row, n in enumerate(batch):
            prompt, answer = encoded[n]
            ids[row, : len(prompt) + len(answer)] = torch.tensor(prompt + answer)
            mask[row, : len(prompt) + len(answer)] = 1
            rows += [row] * len(answer)
            positions += range(len(prompt) - 1, len(prompt) + len(answer) - 1)
            targets += answer
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            hidden = decoder(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)[0]
            index = torch.tensor(rows, device=device), torch.tensor(positions, device=device)
            best = head(hidden[index]).argmax(-1).cpu()
        right = (best == torch.tensor(targets)).tolist()
        at = 0
        for n in batch:
            length = len(encoded[n][1])
            fitted[n] = all(right[at : at + length])
            at += length
    return fitted


class LearningCurve(TrainerCallback):
    """Takes the curve's points during training, appending each to ``log_file`` (a resumed run keeps the points
    taken before it stopped). ``train`` and ``heldout``: instruction records with their ``category``;
    ``compute_dtype``: the base's on this device, that of the CPU's scoring copy."""

    def __init__(
        self,
        tokenizer: Any,
        train: Sequence[dict[str, Any]],
        heldout: Sequence[dict[str, Any]],
        points: int,
        log_file: Path,
        compute_dtype: str,
    ) -> None:
        self.tokenizer = tokenizer
        self.sets = {"train": train, "heldout": heldout}
        self.points = points
        self.log_file = log_file
        self.compute_dtype = compute_dtype
        self.steps: set[int] = set()  # the steps still to take a point at
        self.seconds = 0.0
        self.scoring_copy: ScoringCopy | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):  # noqa: ANN001, ANN201
        # The log is read once: points taken before a resumption are not taken again.
        taken = self.log_file.read_text().splitlines() if self.log_file.exists() else []
        self.steps = set(curve_steps(state.max_steps, self.points)) - {json.loads(line)["step"] for line in taken}
        if self.steps and next(model.parameters()).device.type == "cpu":
            start = time.perf_counter()
            self.scoring_copy = ScoringCopy(model, torch_dtype(self.compute_dtype))
            self.seconds += time.perf_counter() - start
        if state.global_step == 0 and 0 in self.steps:
            self._take(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: ANN001, ANN201
        if state.global_step in self.steps:
            self._take(model, state.global_step)

    def _take(self, model: Any, step: int) -> None:
        import torch

        start = time.perf_counter()
        scored = self.scoring_copy.current() if self.scoring_copy else model
        was_training = scored.training
        scored.eval()
        rows = []
        with torch.no_grad():
            for split, records in self.sets.items():
                pairs = [(format_prompt(r["instruction"], ""), r["output"]) for r in records]
                for record, fitted in zip(records, answer_fitted(scored, self.tokenizer, pairs), strict=True):
                    rows.append({"step": step, "split": split, "category": record["category"], "fitted": fitted})
        scored.train(was_training)
        self.seconds += time.perf_counter() - start
        self.steps.discard(step)
        with open(self.log_file, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)


def curve_table(log_file: Path) -> Any:
    """Per (step, split, category): examples, how many fitted and the share, from the curve's log."""
    import pandas as pd

    rows = pd.read_json(log_file, lines=True)
    table = rows.groupby(["step", "split", "category"], sort=True)["fitted"].agg(examples="size", fitted="sum")
    table = table.reset_index()
    table["share"] = table["fitted"] / table["examples"]
    return table
