"""QLoRA recipes: one TOML file each, loaded into a frozen, validated dataclass."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tasks import DATA_SETS
from ..utils import PipelineInputError

FINE_TUNING_DATA = tuple(name for name, data in DATA_SETS.items() if data.purpose == "fine-tuning")
ALPACA_PROMPT = (
    "Below is an instruction that describes a task{input_clause}. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n{input_block}### Response:\n"
)
PROMPT_TEMPLATES = ("alpaca", "chat_template")  # chat_template: the tokenizer's own
FORMATS = ("instruction", "messages")
INSTRUCTION_FIELDS = ("instruction", "input", "output")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


@dataclass(frozen=True)
class DataSection:
    """Where the examples come from (one of ``dataset``, ``file``, ``hub``) and how to read and render them."""

    dataset: str = field(
        default="alpaca", metadata={"help": f"a registered data set: one of {', '.join(FINE_TUNING_DATA)}"}
    )
    file: str = field(
        default="", metadata={"help": f"your own file instead ({', '.join(('.jsonl', '.json', '.parquet', '.csv'))})"}
    )
    hub: str = field(default="", metadata={"help": "a Hugging Face dataset id instead (needs the hub)"})
    split: str = field(default="train", metadata={"help": "the hub data set's split"})
    format: str = field(
        default="instruction", metadata={"help": f"one of {', '.join(FORMATS)} (records, or chat role/content lists)"}
    )
    fields: dict[str, str] = field(
        default_factory=lambda: {name: name for name in INSTRUCTION_FIELDS},
        metadata={"help": "instruction/input/output -> the file's field names (input may be left out)"},
    )
    messages_field: str = field(default="messages", metadata={"help": "the field holding a record's chat turns"})
    num_examples: int = field(default=10_000, metadata={"help": "the first N examples of the dataset", "min": 1})
    prompt_template: str = field(default="alpaca", metadata={"help": f"one of {', '.join(PROMPT_TEMPLATES)}"})
    knowledge: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "examples of a question pool chosen by the base model's knowledge category, e.g. "
            '{pool = "arc_easy_train", unknown_fraction = 0.5, size = 1000} or '
            '{pool = "arc_easy_train", categories = ["HighlyKnown"], size = 1000}',
            "expected": "a table",
        },
    )


@dataclass(frozen=True)
class LoraSection:
    r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha", "min": 1})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout in [0, 1)", "min": 0.0, "max": 0.999})
    target_modules: str | list[str] = field(
        default="all-linear", metadata={"help": '"all-linear" or a list of module names'}
    )


@dataclass(frozen=True)
class TrainingSection:
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate", "min": 1e-9})
    lr_scheduler: str = field(default="cosine", metadata={"help": f"one of {', '.join(SCHEDULERS)}"})
    warmup_ratio: float = field(
        default=0.03, metadata={"help": "fraction of steps warming up, in [0, 1)", "min": 0.0, "max": 0.999}
    )
    epochs: float = field(
        default=1.0, metadata={"help": "passes over the examples (ignored if max_steps > 0)", "min": 0.0}
    )
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps; -1 = use epochs", "min": -1})
    micro_batch_size: int = field(default=4, metadata={"help": "sequences per forward", "min": 1})
    gradient_accumulation: int = field(default=4, metadata={"help": "micro-batches per optimizer step", "min": 1})
    max_seq_length: int = field(default=512, metadata={"help": "tokens per sequence (longer are cut)", "min": 16})
    packing: bool = field(default=False, metadata={"help": "pack several examples per sequence"})
    gradient_checkpointing: bool | str = field(
        default=True,
        metadata={
            "help": "recompute activations in the backward pass (GPU): true (less memory, slower), false, or "
            '"auto" (keep the activations of as many decoder layers as GPU memory allows)',
            "expected": 'true, false or "auto"',
        },
    )
    upcast_unquantized: bool = field(
        default=True,
        metadata={
            "help": "peft's kbit preparation: a float32 residual stream and norms (the embedding table and lm_head "
            "stored in the compute dtype, which changes no number); false keeps all in the compute dtype (faster, "
            "less memory, other rounding)"
        },
    )
    liger_kernel: bool = field(
        default=False,
        metadata={"help": "Liger's fused Triton kernels, e.g. cross-entropy without full logits (GPU; liger-kernel)"},
    )
    varlen_attention: bool = field(
        default=False,
        metadata={
            "help": "with packing on a GPU: attention per packed sequence (varlen FlashAttention), not one masked"
        },
    )
    fused_lora_update: bool = field(
        default=False,
        metadata={
            "help": "GPU: each LoRA update added to its layer's output inside one matmul (torch.addmm), not by "
            "peft's three passes over the output; the same adapter, other rounding"
        },
    )
    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "training seeds, one adapter each"})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps (resume point)", "min": 1})


@dataclass(frozen=True)
class Recipe:
    """A QLoRA SFT recipe; ``name`` is the file's stem without ``qlora_``."""

    name: str
    data: DataSection
    lora: LoraSection
    training: TrainingSection

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {"data": DataSection, "lora": LoraSection, "training": TrainingSection}


def _type_ok(value: Any, annotation: str) -> bool:
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "list[int]": lambda v: isinstance(v, list) and v and all(isinstance(x, int) for x in v),
        "str | list[str]": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
        "bool | str": lambda v: isinstance(v, bool) or v == "auto",
        "dict[str, str]": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "dict[str, Any]": lambda v: isinstance(v, dict),
    }
    return checks[annotation](value)


def _section(path: Path, name: str, cls: type, raw: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        where = f"{path}: [{name}] {key}"
        if key not in fields:
            raise PipelineInputError(f"{where} is not a known key; use one of {', '.join(fields)}")
        spec = fields[key]
        if not _type_ok(value, str(spec.type)):
            raise PipelineInputError(
                f"{where}={value!r} has the wrong type; expected {spec.metadata.get('expected', spec.type)} "
                f"({spec.metadata['help']})"
            )
        low, high = spec.metadata.get("min"), spec.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise PipelineInputError(f"{where}={value!r} is out of range; {spec.metadata['help']}")
    return cls(**raw)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate ``configs/qlora_<name>.toml``; every error names the file, the key and the fix."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(f"recipe {path} not found; add configs/qlora_<name>.toml or fix qlora.recipes")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PipelineInputError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise PipelineInputError(f"{path}: [{unknown[0]}] is not a known section; use {', '.join(_SECTIONS)}")
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise PipelineInputError(
                f"{path}: {name} = {value!r} is not a table; write the [{name}] section with its keys below it"
            )
    sections = {name: _section(path, name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    recipe = Recipe(name=path.stem.removeprefix("qlora_"), **sections)
    _check_choices(path, recipe)
    _check_data(path, recipe.data, raw.get("data", {}))
    if recipe.data.knowledge:
        mix = knowledge_mix(path, recipe.data.knowledge)
        if "num_examples" in raw.get("data", {}) and recipe.data.num_examples != mix.size:
            raise PipelineInputError(
                f"{path}: [data] num_examples={recipe.data.num_examples} but knowledge.size={mix.size}; a knowledge "
                "mix trains on exactly its size: drop num_examples"
            )
        recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, num_examples=mix.size))
    return recipe


@dataclass(frozen=True)
class KnowledgeMix:
    """A recipe's ``[data] knowledge``: ``size`` examples of the question pool ``pool`` chosen by the base model's
    knowledge category (SliCK, :mod:`..inference.knowledge`): a share ``unknown_fraction`` of Unknown examples and
    the rest known (HighlyKnown, MaybeKnown or WeaklyKnown), or all from ``categories``; drawn with ``seed``."""

    pool: str
    size: int
    unknown_fraction: float | None = None
    categories: tuple[str, ...] = ()
    seed: int = 0

    def wanted(self) -> dict[tuple[str, ...], int]:
        """How many examples each group of categories gives."""
        from ..inference import CATEGORIES

        if self.unknown_fraction is None:
            return {self.categories: self.size}
        unknown = round(self.unknown_fraction * self.size)
        return {("Unknown",): unknown, CATEGORIES[:-1]: self.size - unknown}


KNOWLEDGE_KEYS = ("pool", "size", "unknown_fraction", "categories", "seed")


def knowledge_mix(path: str | Path, raw: dict[str, Any]) -> KnowledgeMix:
    """The checked ``[data] knowledge`` table of the recipe at ``path``."""
    from ..inference import CATEGORIES, PROBE_SETS

    where = f"{path}: [data] knowledge"
    pools = [name for name, probe_set in PROBE_SETS.items() if probe_set.pool]
    unknown = sorted(set(raw) - set(KNOWLEDGE_KEYS))
    if unknown:
        raise PipelineInputError(f"{where}.{unknown[0]} is not a known key; use {', '.join(KNOWLEDGE_KEYS)}")
    if raw.get("pool") not in pools:
        raise PipelineInputError(f"{where}.pool={raw.get('pool')!r}: name a question pool, one of {', '.join(pools)}")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise PipelineInputError(f"{where}.size={size!r}: the number of examples to train on, an integer >= 1")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise PipelineInputError(f"{where}.seed={seed!r}: the draw's seed, an integer >= 0")
    if ("unknown_fraction" in raw) == ("categories" in raw):
        raise PipelineInputError(f"{where}: give exactly one of unknown_fraction = 0.5 or categories = [...]")
    if "unknown_fraction" in raw:
        fraction = raw["unknown_fraction"]
        if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction <= 1:
            raise PipelineInputError(f"{where}.unknown_fraction={fraction!r}: the share of Unknown examples, in [0, 1]")
        return KnowledgeMix(raw["pool"], size, unknown_fraction=float(fraction), seed=seed)
    categories = raw["categories"]
    if not isinstance(categories, list) or not categories or not set(categories) <= set(CATEGORIES):
        raise PipelineInputError(f"{where}.categories={categories!r}: a list of {', '.join(CATEGORIES)}")
    return KnowledgeMix(raw["pool"], size, categories=tuple(sorted(set(categories), key=CATEGORIES.index)), seed=seed)


def _check_choices(path: Path, recipe: Recipe) -> None:
    choices = [
        ("data", "dataset", recipe.data.dataset, FINE_TUNING_DATA),
        ("data", "prompt_template", recipe.data.prompt_template, PROMPT_TEMPLATES),
        ("data", "format", recipe.data.format, FORMATS),
        ("training", "lr_scheduler", recipe.training.lr_scheduler, SCHEDULERS),
    ]
    for section, key, value, allowed in choices:
        if value not in allowed:
            raise PipelineInputError(f"{path}: [{section}] {key}={value!r} is unknown; use one of {', '.join(allowed)}")
    if recipe.training.varlen_attention and not recipe.training.packing:
        raise PipelineInputError(
            f"{path}: [training] varlen_attention = true works on packed sequences; set packing = true or drop it"
        )
    t = recipe.training
    if t.max_steps == 0 or (t.max_steps < 0 and t.epochs == 0):
        raise PipelineInputError(
            f"{path}: [training] epochs={t.epochs}, max_steps={t.max_steps} would train zero steps; "
            "set epochs > 0 (with max_steps = -1) or max_steps > 0"
        )
    if any(seed < 0 for seed in t.seeds):
        raise PipelineInputError(f"{path}: [training] seeds={t.seeds}: seeds are integers >= 0")
    if len(set(recipe.training.seeds)) != len(recipe.training.seeds):
        raise PipelineInputError(f"{path}: [training] seeds={recipe.training.seeds} repeats a seed; list each once")


def _check_data(path: Path, data: DataSection, raw: dict[str, Any]) -> None:
    """One source, a field map that names instruction and output, a template that fits the format, a file
    that exists (relative paths start at the workflow directory)."""
    sources = [key for key in ("dataset", "file", "hub", "knowledge") if raw.get(key)]
    if len(sources) > 1:
        raise PipelineInputError(f"{path}: [data] sets {' and '.join(sources)}; name one source of examples")
    unknown = sorted(set(data.fields) - set(INSTRUCTION_FIELDS))
    if unknown or not {"instruction", "output"} <= set(data.fields):
        raise PipelineInputError(
            f"{path}: [data] fields={data.fields!r} must map instruction and output (and optionally input) to your "
            'field names, e.g. fields = {instruction = "instruction", input = "context", output = "response"}'
        )
    if data.format == "messages" and data.prompt_template != "chat_template":
        raise PipelineInputError(
            f'{path}: [data] format = "messages" is rendered by the tokenizer\'s chat template; set '
            'prompt_template = "chat_template"'
        )
    if data.file and not Path(data.file).is_file():
        raise PipelineInputError(
            f"{path}: [data] file = {data.file!r} does not exist (relative paths start at {Path.cwd()}); "
            "fix the path or copy the file there"
        )


def format_prompt(instruction: str, input_text: str) -> str:
    """The Alpaca prompt of one SFT example (the response is the completion)."""
    return ALPACA_PROMPT.format(
        instruction=instruction,
        input_clause=", paired with an input that provides further context" if input_text else "",
        input_block=f"### Input:\n{input_text}\n\n" if input_text else "",
    )
