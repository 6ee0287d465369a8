"""Run lm-eval's own task definitions on prepared data files, keeping lm-eval's output schema."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import task_spec
from .errors import PipelineInputError
from .io import atomic_write_json
from .model import QuantizationSettings, best_device, load_model, load_tokenizer, model_fingerprint

RESULTS_NAME = "results.json"
SCORING_NAME = "scoring.json"


def samples_name(task: str) -> str:
    return f"samples_{task}.jsonl"


@dataclass(frozen=True)
class EvalRequest:
    """One lm-eval run: a task on one data file with one seed, written to ``out_dir``.

    limit: number of items (a draft) or ``None`` (final results).
    draft: the caller's statement that ``out_dir`` is a draft location; a limit requires it.
    """

    task: str
    seed: int
    data_file: Path
    out_dir: Path
    limit: int | None = None
    draft: bool = False
    num_fewshot: int = 0

    def __post_init__(self) -> None:
        task_spec(self.task)
        if self.limit is not None and not self.draft:
            raise PipelineInputError(
                f"limit={self.limit} would write a partial run to the final-results path {self.out_dir}; "
                "drafts go under evals/drafts/ (unset eval.limit for final results)"
            )
        if not Path(self.data_file).is_file():
            raise PipelineInputError(f"data file {self.data_file} is missing; build it with the prepare_data rule")


def _task_yaml(task: str, data_file: Path) -> str:
    """A local task that includes lm-eval's built-in one (absolute path) and reads ``data_file``."""
    import lm_eval.tasks

    spec = task_spec(task)
    builtin = Path(lm_eval.tasks.__file__).parent / spec.lm_eval_yaml
    splits = {"training_split": None, "validation_split": None, "test_split": None}
    splits[f"{spec.split}_split"] = spec.split
    overrides: dict[str, Any] = {
        "include": str(builtin.resolve()),
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {spec.split: str(Path(data_file).resolve())}},
        **splits,
    }
    return json.dumps(overrides, indent=2)  # JSON is valid YAML


def build_lm(
    model_dir: Path,
    quantization: QuantizationSettings,
    *,
    cache_dir: Path,
    adapter_dir: Path | None = None,
    token_budget: int = 4096,
) -> Any:
    """Load the model once and wrap it in the scorer lm-eval calls."""
    from .score_cache import ScoreCache
    from .scoring import SharedPrefixLM

    device = best_device()
    fingerprint = model_fingerprint(model_dir, quantization.for_device(device), adapter_dir, device=device)
    model = load_model(model_dir, quantization, adapter_dir=adapter_dir, device=device)
    model.eval()
    tokenizer = load_tokenizer(model_dir)
    return SharedPrefixLM(model, tokenizer, cache=ScoreCache(cache_dir, fingerprint), token_budget=token_budget)


def run_evaluation(request: EvalRequest, lm: Any, *, metadata: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``request`` with ``lm``; write results.json, samples_<task>.jsonl and scoring.json.

    Files are written in lm-eval's own schema (via its ``EvaluationTracker``) into a temporary
    directory and moved into ``out_dir`` only when complete, results.json last.
    """
    import os

    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".tmp-") as tmp_name:
        tmp = Path(tmp_name)
        task_dir = tmp / "tasks"
        task_dir.mkdir()
        (task_dir / f"{request.task}.yaml").write_text(_task_yaml(request.task, request.data_file))
        tracker = EvaluationTracker(output_path=str(tmp / "lm_eval"))
        before = dict(lm.stats.as_dict())
        results = simple_evaluate(
            model=lm,
            tasks=[request.task],
            num_fewshot=request.num_fewshot,
            limit=request.limit,
            log_samples=True,
            evaluation_tracker=tracker,
            task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
            random_seed=request.seed,
            numpy_random_seed=request.seed,
            torch_random_seed=request.seed,
            fewshot_random_seed=request.seed,
            metadata=metadata,
        )
        samples = results.pop("samples")
        results["pipeline"] = metadata
        tracker.save_results_aggregated(results=results, samples=samples)
        tracker.save_results_samples(task_name=request.task, samples=samples[request.task])
        produced = tmp / "lm_eval"
        results_file = next(produced.rglob("results_*.json"))
        samples_file = next(produced.rglob(f"samples_{request.task}_*.jsonl"))
        after = lm.stats.as_dict()
        scoring = {key: after[key] - before.get(key, 0) for key in after}
        atomic_write_json(tmp / SCORING_NAME, scoring)
        os.replace(samples_file, out_dir / samples_name(request.task))
        os.replace(tmp / SCORING_NAME, out_dir / SCORING_NAME)
        os.replace(results_file, out_dir / RESULTS_NAME)
    return json.loads((out_dir / RESULTS_NAME).read_text())


def evaluate_jobs(
    requests: Sequence[EvalRequest],
    *,
    model_dir: Path,
    model_label: str,
    quantization: QuantizationSettings,
    cache_dir: Path,
    token_budget: int,
    adapter_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Load the model once, evaluate every request (e.g. one task's seeds) and record what produced the numbers.

    Seeds that cannot change a result (0-shot loglikelihood) cost no forward pass: their requests are
    served from the score cache the first seed filled.
    """
    from .environment import package_versions
    from .io import sha256_file
    from .train import check_adapter_dir

    trained = check_adapter_dir(adapter_dir, model_dir) if adapter_dir else {}
    lm = build_lm(model_dir, quantization, cache_dir=cache_dir, adapter_dir=adapter_dir, token_budget=token_budget)
    device = str(lm.device)
    shared = {
        "model_label": model_label,
        "model_path": str(model_dir),
        "adapter": Path(adapter_dir).name if adapter_dir else None,
        "adapter_path": str(adapter_dir) if adapter_dir else None,
        "recipe": trained.get("recipe"),
        "training_seed": trained.get("seed"),
        "quantization": json.dumps(quantization.for_device(device.split(":")[0]).as_dict(), sort_keys=True),
        "device": device,
        "score_cache": lm.score_cache.fingerprint,
        "versions": package_versions(),
    }
    return [
        run_evaluation(
            request,
            lm,
            metadata={
                "seed": request.seed,
                "limit": request.limit,
                **shared,
                "data_file": str(request.data_file),
                "data_sha256": sha256_file(request.data_file),
            },
        )
        for request in requests
    ]
