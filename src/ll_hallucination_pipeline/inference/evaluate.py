"""Run lm-eval's own task definitions on prepared data files, keeping lm-eval's output schema."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import QuantizationSettings, check_unquantized_fits, load_model, load_tokenizer, model_fingerprint
from ..tasks import RESULTS_NAME, SCORING_NAME, get_data_set, get_task, run_files, samples_name
from ..utils import PipelineInputError, atomic_write_json, best_device, publish_files
from .token_budget import TokenBudgetSetting

log = logging.getLogger(__name__)

# lm-eval output types whose results no seed can change at 0 shots: nothing is sampled.
SEED_INVARIANT_OUTPUT_TYPES = ("loglikelihood", "multiple_choice")
# lm-eval's default length of a generated answer (HFLM.max_gen_toks), kept unless eval.max_gen_toks says otherwise.
DEFAULT_MAX_GEN_TOKS = 256


@dataclass(frozen=True)
class EvalRequest:
    """One lm-eval run: a task on one data file with one seed, written to ``out_dir``.

    limit: number of items (a draft) or ``None`` (final results).
    draft: the caller's statement that ``out_dir`` is a draft location; a limit requires it.
    max_gen_toks: the longest answer a generation task may produce, in tokens (lm-eval's ``gen_kwargs``).
    """

    task: str
    seed: int
    data_file: Path
    out_dir: Path
    limit: int | None = None
    draft: bool = False
    num_fewshot: int = 0
    max_gen_toks: int = DEFAULT_MAX_GEN_TOKS

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.max_gen_toks < 1:
            raise PipelineInputError(f"max_gen_toks={self.max_gen_toks} must be at least 1 (eval.max_gen_toks)")
        if self.limit is not None and not self.draft:
            raise PipelineInputError(
                f"limit={self.limit} would write a partial run to the final-results path {self.out_dir}; "
                "drafts go under evals/drafts/ (unset eval.limit for final results)"
            )
        if not Path(self.data_file).is_file():
            raise PipelineInputError(f"data file {self.data_file} is missing; build it with the prepare_data rule")


def task_yaml(task: str, data_file: Path) -> str:
    """A local task that includes lm-eval's built-in one (absolute path) and reads ``data_file``; an own task's
    YAML as it is (it names its data file itself)."""
    import lm_eval.tasks

    spec = get_task(task)
    if spec.data_file is not None:
        return json.dumps({"include": spec.lm_eval_yaml, "task": task}, indent=2)
    split = get_data_set(spec.data).split
    builtin = Path(lm_eval.tasks.__file__).parent / spec.lm_eval_yaml
    splits = {"training_split": None, "validation_split": None, "test_split": None}
    splits[f"{split}_split"] = split
    overrides: dict[str, Any] = {
        "include": str(builtin.resolve()),
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {split: str(Path(data_file).resolve())}},
        **splits,
    }
    return json.dumps(overrides, indent=2)  # JSON is valid YAML


def build_lm(
    model_dir: Path,
    quantization: QuantizationSettings,
    *,
    cache_dir: Path,
    adapter_dir: Path | None = None,
    token_budget: TokenBudgetSetting = "auto",
    model_sha256: str | None = None,
    merge_adapter: bool = False,
) -> Any:
    """Load the model once and wrap it in the scorer lm-eval calls (``model_sha256``, ``merge_adapter``: see
    :func:`evaluate_jobs`)."""
    from .score_cache import ScoreCache
    from .scoring import SharedPrefixLM

    compile_lm_eval_templates_once()
    aggregate_lone_rouge_scores_directly()
    device = best_device()
    settings = quantization.for_device(device)
    if device.startswith("cuda"):
        import torch

        check_unquantized_fits(model_dir, settings, torch.cuda.mem_get_info()[0])
    fingerprint = model_fingerprint(
        model_dir, settings, adapter_dir, device=device, model_sha256=model_sha256, merged=merge_adapter
    )
    model = load_model(
        model_dir, quantization, adapter_dir=adapter_dir, device=device, for_inference=True, merge_adapter=merge_adapter
    )
    model.eval()
    tokenizer = load_tokenizer(model_dir)
    return SharedPrefixLM(model, tokenizer, cache=ScoreCache(cache_dir, fingerprint), token_budget=token_budget)


def compile_lm_eval_templates_once() -> None:
    """Make lm-eval compile each distinct Jinja template once per process.

    lm-eval renders a task's ``doc_to_text``/``doc_to_choice`` templates through ``env.from_string`` for
    every document, which recompiles the same source each time (two thirds of a cached ARC-Easy run).
    Compiled templates are immutable, so a memo of ``from_string`` changes nothing but the time.
    """
    import lm_eval.utils

    env = lm_eval.utils.env
    if not hasattr(env.from_string, "cache_info"):
        env.from_string = functools.lru_cache(maxsize=1024)(env.from_string)


def aggregate_lone_rouge_scores_directly() -> None:
    """Make rouge_score's ``BootstrapAggregator`` return a lone score without resampling it.

    lm-eval's ``truthfulqa_gen`` scores every (reference, answer) pair through a fresh aggregator holding that one
    score, which draws 1,000 bootstrap resamples of it: 99 % of the task's metric time (~1.7 s an item on a 2-core
    machine). Each resample of one score is that score, so its mean and percentiles (low, mid, high) are that score
    exactly; an aggregator holding more than one score still resamples.
    """
    import numpy as np
    from rouge_score import scoring

    if getattr(scoring.BootstrapAggregator, "lone_scores_direct", False):
        return

    class LoneScoreAggregator(scoring.BootstrapAggregator):
        lone_scores_direct = True

        def aggregate(self) -> dict[str, Any]:
            if any(len(scores) != 1 for scores in self._scores.values()):
                return super().aggregate()
            result = {}
            for score_type, (score,) in self._scores.items():
                lone = type(score)(*np.asarray(score, dtype=np.float64))  # numpy floats, as the resampling returns
                result[score_type] = scoring.AggregateScore(low=lone, mid=lone, high=lone)
            return result

    scoring.BootstrapAggregator = LoneScoreAggregator


def run_evaluation(request: EvalRequest, lm: Any, *, metadata: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``request`` with ``lm``; write results.json, samples_<task>.jsonl and scoring.json.

    Files are written in lm-eval's own schema (via its ``EvaluationTracker``) into a temporary
    directory and moved into ``out_dir`` only when complete, results.json last.
    """
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".tmp-") as tmp_name:
        tmp = Path(tmp_name)
        task_dir = tmp / "tasks"
        task_dir.mkdir()
        (task_dir / f"{request.task}.yaml").write_text(task_yaml(request.task, request.data_file))
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
            gen_kwargs={"max_gen_toks": request.max_gen_toks} if get_task(request.task).generates else None,
            metadata=metadata,
        )
        samples = results.pop("samples")
        results["pipeline"] = metadata
        tracker.save_results_aggregated(results=results, samples=samples)
        tracker.save_results_samples(task_name=request.task, samples=samples[request.task])
        produced = tmp / "lm_eval"
        os.replace(next(produced.rglob("results_*.json")), tmp / RESULTS_NAME)
        os.replace(next(produced.rglob(f"samples_{request.task}_*.jsonl")), tmp / samples_name(request.task))
        after = lm.stats.as_dict()
        counts = {key: after[key] - before.get(key, 0) for key in after}
        seconds, generating = counts.pop("scoring_seconds"), counts.pop("generation_seconds")
        counts["scoring_seconds"] = round(seconds, 3)
        counts["tokens_per_second"] = round(counts["tokens_run"] / seconds) if seconds else None
        counts["generation_seconds"] = round(generating, 3)
        counts["decode_tokens_per_second"] = round(counts["generated_tokens"] / generating) if generating else None
        atomic_write_json(tmp / SCORING_NAME, {**counts, **lm.stats.gauges()})
        publish_files(tmp, out_dir, run_files(request.task))
    spent = f"{request.task} seed {request.seed}: {time.perf_counter() - started:.1f} s"
    if counts["tokens_run"]:
        spent += f", {seconds:.1f} s scoring {counts['tokens_run']} tokens ({counts['tokens_per_second']} tokens/s)"
    if counts["generated_tokens"]:
        spent += (
            f", {generating:.1f} s generating {counts['generated_tokens']} tokens "
            f"({counts['decode_tokens_per_second']} tokens/s)"
        )
    log.info("%s", spent)
    return json.loads((out_dir / RESULTS_NAME).read_text())


def is_seed_invariant(results: dict[str, Any], task: str) -> bool:
    """Whether lm-eval's own record of a run shows that no seed can change it: 0-shot loglikelihood scoring, or
    0-shot greedy generation (nothing sampled)."""
    config = results["configs"][task]
    if config.get("num_fewshot") != 0:
        return False
    if config.get("output_type") == "generate_until":
        generation = config.get("generation_kwargs")
        return generation is not None and generation.get("do_sample") is False
    return config.get("output_type") in SEED_INVARIANT_OUTPUT_TYPES


def reuse_evaluation(
    computed: EvalRequest, results: dict[str, Any], request: EvalRequest, *, metadata: dict[str, Any]
) -> dict[str, Any]:
    """Write ``request``'s outputs from the seed-invariant run ``computed`` (its ``results``), without rerunning.

    The samples are copied unchanged; results.json keeps lm-eval's own record of the run (its seeds
    included) and says in ``pipeline`` which seed this is and that it was ``computed_with_seed``.
    """
    if not is_seed_invariant(results, computed.task):
        raise ValueError(f"{computed.out_dir} is neither 0-shot loglikelihood scoring nor greedy: every seed must run")
    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".tmp-") as tmp_name:
        tmp = Path(tmp_name)
        shutil.copyfile(Path(computed.out_dir) / samples_name(request.task), tmp / samples_name(request.task))
        atomic_write_json(tmp / SCORING_NAME, {"requests": 0, "scored": 0, "reused_from_seed": computed.seed})
        kind = "0-shot greedy generation" if get_task(request.task).generates else "0-shot loglikelihood"
        pipeline = {**metadata, "computed_with_seed": computed.seed, "seed_invariant": kind}
        atomic_write_json(tmp / RESULTS_NAME, {**results, "pipeline": pipeline})
        publish_files(tmp, out_dir, run_files(request.task))
    return json.loads((out_dir / RESULTS_NAME).read_text())


def evaluate_jobs(
    requests: Sequence[EvalRequest],
    *,
    model_dir: Path,
    model_label: str,
    quantization: QuantizationSettings,
    cache_dir: Path,
    token_budget: TokenBudgetSetting,
    adapter_dir: Path | None = None,
    model_sha256: str | None = None,
    merge_adapter: bool = False,
) -> list[dict[str, Any]]:
    """Load the model once, evaluate every request (e.g. one task's seeds) and record what produced the numbers.

    ``model_sha256``: the base weights' hash where already known (the DAG reads it from the
    ``hash_base_model`` record, see :mod:`.weights_hash`); ``None`` hashes them here. ``merge_adapter``: merge the
    adapter into the (unquantized) base rather than apply it unmerged.

    A seed that cannot change the result (lm-eval's record of an earlier request on the same task, data
    and limit says 0-shot loglikelihood scoring) is not rerun: see :func:`reuse_evaluation`. Otherwise
    its requests still cost no forward pass: the score cache serves them.
    """
    from ..models import check_adapter_dir, weights_sha256
    from ..utils import package_versions, sha256_file

    model_sha256 = model_sha256 or weights_sha256(model_dir)
    trained = check_adapter_dir(adapter_dir, model_dir, model_sha256=model_sha256) if adapter_dir else {}
    lm = build_lm(
        model_dir,
        quantization,
        cache_dir=cache_dir,
        adapter_dir=adapter_dir,
        token_budget=token_budget,
        model_sha256=model_sha256,
        merge_adapter=merge_adapter,
    )
    device = str(lm.device)
    shared = {
        "model_label": model_label,
        "model_path": str(model_dir),
        "adapter": Path(adapter_dir).name if adapter_dir else None,
        "adapter_path": str(adapter_dir) if adapter_dir else None,
        "adapter_merged": merge_adapter,
        "recipe": trained.get("recipe"),
        "training_seed": trained.get("seed"),
        "quantization": json.dumps(quantization.for_device(device.split(":")[0]).as_dict(), sort_keys=True),
        "device": device,
        "score_cache": lm.score_cache.fingerprint,
        "versions": package_versions(),
    }
    data_hashes = {path: sha256_file(path) for path in {request.data_file for request in requests}}
    outputs: list[dict[str, Any]] = []
    computed: dict[tuple[Any, ...], tuple[EvalRequest, dict[str, Any]]] = {}
    for request in requests:
        metadata = {
            "seed": request.seed,
            "limit": request.limit,
            **shared,
            "data_file": str(request.data_file),
            "data_sha256": data_hashes[request.data_file],
        }
        same_run = (request.task, str(request.data_file), request.limit, request.num_fewshot, request.max_gen_toks)
        if same_run in computed and is_seed_invariant(computed[same_run][1], request.task):
            outputs.append(reuse_evaluation(*computed[same_run], request, metadata=metadata))
        else:
            outputs.append(run_evaluation(request, lm, metadata=metadata))
            computed[same_run] = (request, outputs[-1])
    return outputs
