import pytest

from ll_hallucination_pipeline.training.recipe import format_prompt, load_recipe
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from tests.helpers import REPO


@pytest.mark.parametrize("name", ["tiny", "alpaca_10k", "alpaca_10k_fast"])
def test_shipped_recipes_load(name):
    recipe = load_recipe(REPO / "configs" / f"qlora_{name}.toml")
    assert recipe.name == name and recipe.data.dataset == "alpaca" and recipe.training.seeds


def test_runbook_recipe_values():
    recipe = load_recipe(REPO / "configs" / "qlora_alpaca_10k.toml")
    assert recipe.data.num_examples == 10_000
    assert (recipe.lora.r, recipe.lora.target_modules) == (16, "all-linear")


def test_fast_recipe_differs_from_the_runbook_only_in_how_it_trains():
    runbook, fast = (load_recipe(REPO / "configs" / f"qlora_{n}.toml") for n in ("alpaca_10k", "alpaca_10k_fast"))
    assert (fast.data, fast.lora) == (runbook.data, runbook.lora)
    assert fast.training.learning_rate == runbook.training.learning_rate
    assert fast.training.packing and fast.training.liger_kernel and fast.training.varlen_attention
    assert fast.training.fused_lora_update
    assert fast.training.gradient_checkpointing == "auto" and not fast.training.upcast_unquantized


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[training]\nlearning_rte = 1e-4\n", "[training] learning_rte is not a known key; use one of learning_rate,"),
        ("[lora]\nr = 'eight'\n", "[lora] r='eight' has the wrong type; expected int (LoRA rank)"),
        ("[lora]\ndropout = 1.5\n", "[lora] dropout=1.5 is out of range; LoRA dropout in [0, 1)"),
        ("[data]\ndataset = 'dolly'\n", "[data] dataset='dolly' is unknown; use one of alpaca"),
        ("[training]\nseeds = [0, 0]\n", "[training] seeds=[0, 0] repeats a seed"),
        (
            "[training]\ngradient_checkpointing = 'always'\n",
            "[training] gradient_checkpointing='always' has the wrong type; expected true, false or \"auto\"",
        ),
        ("[training]\nvarlen_attention = true\n", "varlen_attention = true works on packed sequences; set packing"),
        ("[optimizer]\nlr = 1\n", "[optimizer] is not a known section; use data, lora, training"),
        ("[data\n", "not valid TOML"),
        ("lora = 5\n", "lora = 5 is not a table; write the [lora] section with its keys below it"),
        ("[training]\nepochs = 0\n", "[training] epochs=0, max_steps=-1 would train zero steps; set epochs > 0"),
        ("[training]\nmax_steps = 0\n", "[training] epochs=1.0, max_steps=0 would train zero steps"),
        ("[training]\nseeds = [-1]\n", "[training] seeds=[-1]: seeds are integers >= 0"),
        ("[data]\nformat = 'sharegpt'\n", "[data] format='sharegpt' is unknown; use one of instruction, messages"),
        ("[data]\nprompt_template = 'llama'\n", "[data] prompt_template='llama' is unknown; use one of alpaca, chat"),
        ("[data]\nformat = 'messages'\n", 'format = "messages" is rendered by the tokenizer\'s chat template; set'),
        ("[data]\nfile = 'nope/dolly.jsonl'\n", "[data] file = 'nope/dolly.jsonl' does not exist (relative paths"),
        ("[data]\ndataset = 'alpaca'\nhub = 'x/y'\n", "[data] sets dataset and hub; name one source of examples"),
        (
            "[data]\nfields = {instruction = 'q'}\n",
            "[data] fields={'instruction': 'q'} must map instruction and output",
        ),
        ("[data]\nfields = {prompt = 'q', output = 'a'}\n", "[data] fields={'prompt': 'q', 'output': 'a'} must map"),
    ],
)
def test_each_bad_recipe_names_file_key_and_fix(tmp_path, text, message):
    path = tmp_path / "qlora_bad.toml"
    path.write_text(text)
    with pytest.raises(PipelineInputError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(PipelineInputError, match="qlora_nope.toml not found"):
        load_recipe(tmp_path / "qlora_nope.toml")


def test_prompt_template_with_and_without_input():
    with_input = format_prompt("Add.", "2 and 3")
    assert "### Input:\n2 and 3\n\n### Response:\n" in with_input and "paired with an input" in with_input
    assert "### Input" not in format_prompt("Say hi.", "")


def test_gpu_speed_switches_reach_the_trainer(tmp_path):
    from ll_hallucination_pipeline.training.train import sft_config

    path = tmp_path / "qlora_fast.toml"
    path.write_text("[training]\ngradient_checkpointing = false\nliger_kernel = true\nmicro_batch_size = 16\n")
    fast = load_recipe(path)
    default = load_recipe(REPO / "configs" / "qlora_alpaca_10k.toml")
    on_cpu = sft_config(fast, 0, tmp_path / "w", "cpu", "float32")
    assert not on_cpu.gradient_checkpointing and not on_cpu.use_liger_kernel  # GPU-only switches
    assert on_cpu.per_device_train_batch_size == 16
    assert default.training.gradient_checkpointing and not default.training.liger_kernel
