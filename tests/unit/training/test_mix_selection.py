"""A recipe's knowledge mix: its table checked, the held-out slice, the examples drawn per category."""

from __future__ import annotations

import pytest

from ll_hallucination_pipeline.training.learning_curve import curve_steps
from ll_hallucination_pipeline.training.mix_selection import heldout_items, qa_example, select_mix
from ll_hallucination_pipeline.training.recipe import KnowledgeMix, knowledge_mix, load_recipe
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from tests.helpers import REPO

POOL = ["Unknown"] * 40 + ["HighlyKnown"] * 20 + ["MaybeKnown"] * 15 + ["WeaklyKnown"] * 5


@pytest.mark.parametrize("fraction", ["000", "025", "050", "075", "100"])
def test_sweep_recipes_differ_only_in_the_mix(fraction):
    recipe = load_recipe(REPO / f"configs/qlora_arc_unknown_{fraction}.toml")
    reference = load_recipe(REPO / "configs/qlora_arc_unknown_000.toml")
    assert recipe.data.knowledge == {"pool": "arc_easy_train", "unknown_fraction": int(fraction) / 100, "size": 96}
    assert recipe.data.num_examples == 96 and (recipe.lora, recipe.training) == (reference.lora, reference.training)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('{ pool = "nq", size = 4, unknown_fraction = 0.5 }', "knowledge.pool='nq': name a question pool, one of"),
        ('{ pool = "arc_easy_train", size = 0, unknown_fraction = 0.5 }', "knowledge.size=0: the number of examples"),
        ('{ pool = "arc_easy_train", size = 4, unknown_fraction = 1.5 }', "unknown_fraction=1.5: the share of Unknown"),
        ('{ pool = "arc_easy_train", size = 4 }', "give exactly one of unknown_fraction = 0.5 or categories"),
        (
            '{ pool = "arc_easy_train", size = 4, categories = ["Known"] }',
            "categories=['Known']: a list of HighlyKnown",
        ),
        ('{ pool = "arc_easy_train", size = 4, categories = [], share = 1 }', "knowledge.share is not a known key"),
    ],
)
def test_a_bad_knowledge_table_names_the_key_and_the_fix(tmp_path, table, message):
    path = tmp_path / "qlora_mix.toml"
    path.write_text(f"[data]\nknowledge = {table}\n")
    with pytest.raises(PipelineInputError, match="qlora_mix.toml: \\[data\\] knowledge"):
        load_recipe(path)
    with pytest.raises(PipelineInputError) as error:
        load_recipe(path)
    assert message in str(error.value)


def test_a_mix_is_one_source_and_trains_on_exactly_its_size(tmp_path):
    path = tmp_path / "qlora_mix.toml"
    path.write_text(
        '[data]\ndataset = "alpaca"\nknowledge = { pool = "arc_easy_train", size = 4, unknown_fraction = 0 }\n'
    )
    with pytest.raises(PipelineInputError, match="sets dataset and knowledge; name one source"):
        load_recipe(path)
    path.write_text(
        '[data]\nnum_examples = 5\nknowledge = { pool = "arc_easy_train", size = 4, unknown_fraction = 0 }\n'
    )
    with pytest.raises(PipelineInputError, match="num_examples=5 but knowledge.size=4"):
        load_recipe(path)


def test_the_heldout_slice_takes_each_category_and_is_the_same_for_every_mix():
    held = heldout_items(POOL, 3)
    assert len(held) == 12 and held == heldout_items(POOL, 3)
    assert sorted(POOL[n] for n in held) == sorted(["Unknown", "HighlyKnown", "MaybeKnown", "WeaklyKnown"] * 3)
    assert len(heldout_items(POOL, 10)) == 35  # all 5 WeaklyKnown


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_a_mix_has_its_size_its_unknown_share_and_no_heldout_item(fraction):
    held = heldout_items(POOL, 3)
    chosen = select_mix(POOL, held, KnowledgeMix("arc_easy_train", 20, unknown_fraction=fraction), recipe="r")
    assert len(chosen) == len(set(chosen)) == 20 and not set(chosen) & set(held)
    assert sum(POOL[n] == "Unknown" for n in chosen) == round(20 * fraction)


def test_a_mix_of_named_categories_draws_only_them():
    chosen = select_mix(
        POOL, [], KnowledgeMix("arc_easy_train", 30, categories=("HighlyKnown", "MaybeKnown")), recipe="r"
    )
    assert {POOL[n] for n in chosen} == {"HighlyKnown", "MaybeKnown"} and len(chosen) == 30


def test_asking_for_more_than_the_probe_found_says_how_many_exist():
    mix = KnowledgeMix("arc_easy_train", 50, unknown_fraction=0.0)
    with pytest.raises(
        PipelineInputError, match="asks for 50 HighlyKnown / MaybeKnown / WeaklyKnown examples"
    ) as error:
        select_mix(POOL, heldout_items(POOL, 3), mix, recipe="arc_unknown_000")
    assert "found 31 outside the held-out slice (HighlyKnown 17, MaybeKnown 12, WeaklyKnown 2)" in str(error.value)


def test_an_nq_item_becomes_its_question_and_first_answer_and_its_pool_is_accepted(tmp_path):
    doc = {"question": "who wrote hamlet", "answer": ["William Shakespeare", "Shakespeare"]}
    assert qa_example(doc, "HighlyKnown", 3)["output"] == "William Shakespeare"
    recipe = (REPO / "configs/qlora_arc_unknown_050.toml").read_text().replace("arc_easy_train", "nq_open_pool")
    (tmp_path / "qlora_nq.toml").write_text(recipe)
    assert load_recipe(tmp_path / "qlora_nq.toml").data.knowledge["pool"] == "nq_open_pool"
    (tmp_path / "qlora_test.toml").write_text(recipe.replace("nq_open_pool", "nq_open"))
    recipe_file = tmp_path / "qlora_test.toml"
    with pytest.raises(PipelineInputError, match="a question pool, one of arc_easy_train, arc_challenge_train, nq_"):
        knowledge_mix(recipe_file, load_recipe(recipe_file).data.knowledge)


def test_an_arc_item_becomes_its_question_and_correct_answer():
    doc = {
        "id": "q1",
        "question": "Which is a gas?",
        "choices": {"text": ["ice", "steam"], "label": ["A", "B"]},
        "answerKey": "B",
    }
    assert qa_example(doc, "Unknown", 7) == {
        "instruction": "Which is a gas?",
        "output": "steam",
        "id": "q1",
        "item": 7,
        "category": "Unknown",
    }


def test_curve_points_are_evenly_spaced_and_start_before_training():
    assert curve_steps(48, 4) == [0, 12, 24, 36, 48]
    assert curve_steps(3, 5) == [0, 1, 2, 3]


class CharTokenizer:
    """Each character one token (its code point mod 64); no special tokens."""

    pad_token_id = 0

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [ord(c) % 64 for c in text]}


def test_fitted_answers_are_those_whose_every_token_is_the_argmax_after_the_tokens_before_it():
    """Against one plain forward per example: the model's own greedy continuations are fitted, one token changed
    is not, in batches of mixed lengths."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ll_hallucination_pipeline.training.learning_curve import answer_fitted

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    ).eval()
    tokenizer = CharTokenizer()
    pairs = []
    for n in range(20):
        prompt = "question " * (1 + n % 4) + str(n)
        ids = tokenizer(prompt)["input_ids"]
        with torch.no_grad():
            greedy = model.generate(torch.tensor([ids]), max_new_tokens=3, do_sample=False)[0, len(ids) :].tolist()
        answer = "".join(chr(t + 64) for t in greedy)  # chr(t + 64) encodes back to t
        pairs.append((prompt, answer if n % 3 else answer[:-1] + chr((greedy[-1] + 1) % 64 + 64)))
    with torch.no_grad():
        found = answer_fitted(model, tokenizer, pairs)
    assert found == [bool(n % 3) for n in range(20)]
