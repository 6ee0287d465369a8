"""Training on your own data: a field-mapped file and a chat-messages file through the real DAG, SmolLM2's own
chat template with the loss on assistant tokens only, and a changed file making only its adapter stale."""

from __future__ import annotations

import json

import pytest

from ll_hallucination_pipeline.models.model_loading import load_tokenizer
from ll_hallucination_pipeline.training.sft_data import chat_example
from ll_hallucination_pipeline.utils.io import sha256_file
from tests.helpers import REPO, run_snakemake, write_config

pytestmark = pytest.mark.slow
CHAT = [
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Add 2 and 3."},
    {"role": "assistant", "content": "5"},
]


def test_chat_examples_use_smollm2s_template_with_loss_on_assistant_turns(converted_model, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    tokenizer = load_tokenizer(converted_model)
    example = chat_example(tokenizer, CHAT)
    assert tokenizer.decode(example["input_ids"]) == tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert "You are a helpful AI assistant named SmolLM" in tokenizer.decode(example["input_ids"])  # its own default
    trained = [t for t, m in zip(example["input_ids"], example["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(trained) == "Hello! How can I help?<|im_end|>\n5<|im_end|>\n"
    # trl turns the mask into labels: every other token is left out of the loss
    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", max_length=256)
    model = AutoModelForCausalLM.from_pretrained(converted_model)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list([example]), processing_class=tokenizer)
    labels = trainer.train_dataset[0]["labels"]
    assert [label != -100 for label in labels] == [bool(m) for m in example["assistant_masks"]]


def test_own_files_train_through_the_dag(converted_model, shared_data, tmp_path):
    alpaca = [json.loads(line) for line in (shared_data / "alpaca/train.jsonl").read_text().splitlines()[:16]]
    (tmp_path / "my_data").mkdir()
    dolly = [{"instruction": r["instruction"], "context": r["input"], "response": r["output"]} for r in alpaca]
    (tmp_path / "my_data/dolly.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dolly))
    chats = [
        {"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]}
        for r in alpaca
    ]
    (tmp_path / "my_data/chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chats))
    tiny = (REPO / "configs/qlora_tiny.toml").read_text().split("[lora]")[1]
    recipes = tmp_path / "configs"
    recipes.mkdir()
    for name in ("own_fields", "own_chat"):
        data = (
            (REPO / f"configs/qlora_{name}.toml")
            .read_text()
            .split("[lora]")[0]
            .replace("num_examples = 1000", "num_examples = 16")
        )
        (recipes / f"qlora_{name}.toml").write_text(data + "[lora]" + tiny.replace("epochs = 3", "epochs = 1"))
    write_config(tmp_path, qlora={"recipes": ["own_fields", "own_chat"], "recipes_dir": str(recipes)})
    env = {"MODEL_PATH": str(converted_model)}
    targets = ["adapters/own_fields_seed0", "adapters/own_chat_seed0"]
    done = run_snakemake(tmp_path, *targets, "--cores", "all", "--resources", "gpu=1", env=env)
    assert done.returncode == 0, done.stdout[-4000:]
    for name, prepared in (("own_fields", "user_dolly"), ("own_chat", "user_chats")):
        manifest = json.loads((tmp_path / f"adapters/{name}_seed0/manifest.json").read_text())
        assert manifest["data_sha256"] == sha256_file(tmp_path / f"data/{prepared}.jsonl")
        assert manifest["global_steps"] == 4 and manifest["train_loss"] > 0

    (tmp_path / "my_data/chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chats[::-1]))
    stale = run_snakemake(tmp_path, *targets, "-n", env=env).stdout
    assert "rule prepare_sft_data" in stale and "data/user_chats.jsonl" in stale
    assert "output: adapters/own_chat_seed0" in stale and "output: adapters/own_fields_seed0" not in stale
