import json
from pathlib import Path

import pytest

from ll_hallucination_pipeline.tasks.data import POOL_EXEMPLARS, local_source, prepare_dataset, split_question_pool
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from ll_hallucination_pipeline.utils.io import sha256_file


def test_local_copy_is_byte_identical_with_sha_recorded(tiny_data, tmp_path):
    source = local_source("arc_easy", tiny_data)
    manifest = prepare_dataset("arc_easy", tmp_path / "d.jsonl", tmp_path / "m.json", source=source)
    assert (tmp_path / "d.jsonl").read_bytes() == source.read_bytes()
    assert manifest["sha256"] == sha256_file(source)
    assert manifest["n_items"] == 6
    assert json.loads((tmp_path / "m.json").read_text()) == manifest


def test_wrong_schema_is_refused_and_nothing_written(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "choices": ["a"], "answer": "A"}) + "\n")
    with pytest.raises(PipelineInputError, match="record 1 lacks field 'id'"):
        prepare_dataset("arc_easy", tmp_path / "d.jsonl", tmp_path / "m.json", source=bad)
    assert not (tmp_path / "d.jsonl").exists()


def test_malformed_json_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n{oops\n')
    with pytest.raises(PipelineInputError, match=r"bad.jsonl:2 is not valid JSON"):
        prepare_dataset("truthfulqa", tmp_path / "d.jsonl", tmp_path / "m.json", source=bad)


def test_unknown_data_set_and_missing_file(tmp_path):
    with pytest.raises(
        PipelineInputError, match="'arc_eazy' is unknown; use one of truthfulqa, arc_easy, arc_challenge"
    ):
        prepare_dataset("arc_eazy", tmp_path / "d.jsonl", tmp_path / "m.json", source=None)
    with pytest.raises(PipelineInputError, match="set data.local_dir"):
        local_source("arc_easy", tmp_path)


def test_unreachable_hub_names_the_local_fix_and_writes_nothing(tmp_path, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'allenai/ai2_arc' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    out = tmp_path / "arc_easy.jsonl"
    with pytest.raises(PipelineInputError, match="set data.local_dir in config.yaml to a directory holding arc_easy/"):
        prepare_dataset("arc_easy", out, tmp_path / "arc_easy.json", source=None)
    assert not out.exists()


def test_a_set_the_hub_lacks_asks_for_its_local_file_and_writes_nothing(tmp_path):
    out = tmp_path / "efficientqa_dev.jsonl"
    with pytest.raises(PipelineInputError, match="no copy on the Hugging Face hub; set data.local_dir .* nq_open/"):
        prepare_dataset("efficientqa_dev", out, tmp_path / "m.json", source=None)
    assert not out.exists()


def test_a_question_pool_sets_its_first_items_aside_for_exemplars():
    dev = [{"question": f"d{n}", "answer": ["x"]} for n in range(40)]
    test = [{"question": f"t{n}", "answer": ["y"]} for n in range(5)]
    items, exemplars = split_question_pool([dev, test])
    assert exemplars == dev[:POOL_EXEMPLARS] and items == dev[POOL_EXEMPLARS:] + test
    with pytest.raises(PipelineInputError, match="needs more than 32 items; it has 32"):
        split_question_pool([dev[:32]])


def _first(path: Path) -> dict:
    return json.loads(path.read_text().splitlines()[0])


@pytest.mark.parametrize(
    ("name", "local_file", "break_record", "message"),
    [
        (
            "truthfulqa",
            "truthfulqa/mc_validation.jsonl",
            lambda r: r["mc2_targets"].update(labels=[0] * len(r["mc2_targets"]["labels"])),
            "record 1: mc2_targets.labels mark no choice correct; at least one must be 1",
        ),
        (
            "truthfulqa",
            "truthfulqa/mc_validation.jsonl",
            lambda r: r["mc1_targets"].update(labels=[0, 1] + [0] * (len(r["mc1_targets"]["labels"]) - 2)),
            "record 1: mc1_targets.labels must mark exactly the first choice correct",
        ),
        ("arc_easy", "arc_easy/test.jsonl", lambda r: r.update(answerKey="Z"), "record 1: answerKey 'Z' is not among"),
        (
            "arc_easy",
            "arc_easy/test.jsonl",
            lambda r: r["choices"].update(text=[]),
            "record 1: choices.text must be a non-empty list of non-empty texts",
        ),
    ],
)
def test_records_whose_meaning_is_wrong_are_refused(tiny_data, tmp_path, name, local_file, break_record, message):
    record = _first(tiny_data / local_file)
    break_record(record)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n")
    with pytest.raises(PipelineInputError, match=message):
        prepare_dataset(name, tmp_path / "d.jsonl", tmp_path / "m.json", source=bad)
    assert not (tmp_path / "d.jsonl").exists()


@pytest.mark.parametrize(
    ("name", "record", "message"),
    [
        ("nq_open", {"question": "who wrote it"}, "lacks field 'answer' of type list"),
        ("nq_open", {"question": "who wrote it", "answer": []}, "answer must be a non-empty list"),
        ("truthfulqa_gen", {"question": "q?", "correct_answers": ["a"]}, "lacks field 'incorrect_answers'"),
        (
            "truthfulqa_gen",
            {"question": "q?", "correct_answers": ["a"], "incorrect_answers": []},
            "incorrect_answers must be a non-empty list of texts",
        ),
    ],
)
def test_a_generation_record_without_its_fields_is_one_line(name, record, message):
    from ll_hallucination_pipeline.tasks.data import check_records

    with pytest.raises(PipelineInputError, match=f"f.jsonl: record 1.*{message}"):
        check_records(name, [record], "f.jsonl")
