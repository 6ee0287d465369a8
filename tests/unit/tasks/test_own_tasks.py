"""A user's own lm-eval task YAMLs (eval.task_dirs) become registry entries; what the pipeline cannot use is one line
naming the file and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ll_hallucination_pipeline.inference.evaluate import task_yaml
from ll_hallucination_pipeline.tasks import registry as tasks
from ll_hallucination_pipeline.tasks.own_tasks import find_own_tasks
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from ll_hallucination_pipeline.workflow.config import check_config
from tests.helpers import REPO

EXAMPLE = REPO / "examples/own_task"


@pytest.fixture
def study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A study directory holding a copy of the example (its data path is relative to the study directory)."""
    shutil.copytree(EXAMPLE, tmp_path / "examples/own_task")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_task(folder: Path, name: str, **fields) -> Path:
    """A task YAML in ``folder`` reading ``folder/items.jsonl`` (written), ``fields`` over a multiple-choice base."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.jsonl").write_text('{"q": "a?", "options": ["x", "y"], "gold": 1}\n')
    spec = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(folder / "items.jsonl")}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{q}}",
        "doc_to_choice": "{{options}}",
        "doc_to_target": "gold",
    } | fields
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(spec))
    return path


def test_the_example_becomes_a_task_that_config_and_evaluation_accept(study):
    config = check_config({"eval": {"tasks": ["capitals", "arc_easy"], "task_dirs": ["examples/own_task"]}})
    assert config["eval"]["tasks"] == ["capitals", "arc_easy"]
    task = tasks.get_task("capitals")
    assert (task.metrics, task.paired_test, task.role) == (("acc", "acc_norm"), "mcnemar", "knowledge")
    assert task.label == "capitals"
    assert tasks.task_data_file("capitals") == "examples/own_task/capitals.jsonl"
    assert json.loads(task_yaml("capitals", Path("ignored"))) == {
        "include": str((study / "examples/own_task/capitals.yaml").resolve()),
        "task": "capitals",
    }
    doc = json.loads((study / "examples/own_task/capitals.jsonl").read_text().splitlines()[2])
    assert task.prompt(doc) == "Question: What is the capital of Australia?\nAnswer:"
    assert task.choices(doc) == ["Sydney", "Melbourne", "Perth", "Canberra"]
    assert task.correct(doc) == [False, False, False, True]


def test_what_a_yaml_cannot_say_comes_from_config(tmp_path):
    folder = tmp_path / "mine"
    write_task(folder, "probe", metric_list=[{"metric": "acc"}, {"metric": "brier_score"}])
    settings = {"role": "truthfulness", "label": "Probe", "metric": "brier_score"}
    probe = find_own_tasks([str(folder)], {"probe": settings})["probe"]
    assert (probe.role, probe.label, probe.metrics) == ("truthfulness", "Probe", ("brier_score", "acc"))
    assert probe.paired_test == "bootstrap" and probe.is_right_wrong("acc") and not probe.is_right_wrong("brier_score")
    write_task(folder, "said", output_type="generate_until", doc_to_target="{{options[gold]}}")
    said = find_own_tasks([str(folder)], {})["said"]
    assert said.generates and said.metrics == ("exact_match",) and said.paired_test == "mcnemar"
    assert said.references({"q": "a?", "options": ["x", "y"], "gold": 1}) == (["y"], [])


def test_a_target_given_as_the_choice_text_marks_that_choice(tmp_path):
    write_task(tmp_path / "mine", "texts", doc_to_target="{{options[gold]}}")
    task = find_own_tasks([str(tmp_path / "mine")], {})["texts"]
    assert task.correct({"q": "a?", "options": ["x", "y"], "gold": 0}) == [True, False]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"output_type": "loglikelihood_rolling"}, "output_type 'loglikelihood_rolling' cannot be scored"),
        ({"dataset_path": "my-org/probes"}, "an own task reads a local file; use dataset_path: json"),
        ({"dataset_kwargs": {"data_files": {"test": "nowhere.jsonl"}}}, "data file nowhere.jsonl .* does not exist"),
        ({"test_split": None}, "no test_split or validation_split"),
    ],
)
def test_what_the_pipeline_cannot_use_is_one_line_naming_the_file(tmp_path, fields, message):
    path = write_task(tmp_path / "mine", "probe", **fields)
    with pytest.raises(PipelineInputError, match=message) as error:
        find_own_tasks([str(tmp_path / "mine")], {})
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_names_settings_and_folders_are_checked(tmp_path):
    write_task(tmp_path / "a", "probe")
    with pytest.raises(PipelineInputError, match="metric='bleu' is not in .*; use one of acc, acc_norm"):
        find_own_tasks([str(tmp_path / "a")], {"probe": {"metric": "bleu"}})
    with pytest.raises(PipelineInputError, match="names 'other', which no task YAML in eval.task_dirs defines"):
        find_own_tasks([str(tmp_path / "a")], {"other": {"role": "knowledge"}})
    with pytest.raises(PipelineInputError, match="role='facts' is invalid; use knowledge or truthfulness"):
        check_config(
            {
                "eval": {
                    "tasks": ["probe"],
                    "task_dirs": [str(tmp_path / "a")],
                    "own_tasks": {"probe": {"role": "facts"}},
                }
            }
        )
    with pytest.raises(PipelineInputError, match="is not a directory"):
        find_own_tasks([str(tmp_path / "missing")], {})
    write_task(tmp_path / "b", "probe")
    with pytest.raises(PipelineInputError, match="'probe' is defined twice, in .*a/probe.yaml and .*b/probe.yaml"):
        find_own_tasks([str(tmp_path / "a"), str(tmp_path / "b")], {})
    write_task(tmp_path / "c", "arc_easy")
    with pytest.raises(PipelineInputError, match="'arc_easy' is a built-in task's name; rename yours"):
        find_own_tasks([str(tmp_path / "c")], {})


def test_a_yaml_lm_eval_cannot_load_names_its_file(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/broken.yaml").write_text("task: broken\ndoc_to_text: !function nowhere.fn\n")
    with pytest.raises(PipelineInputError, match=r"broken.yaml: lm-eval cannot load this task YAML \(ImportError"):
        find_own_tasks([str(tmp_path / "mine")], {})


def test_an_own_task_not_in_task_dirs_is_an_unknown_name(study):
    with pytest.raises(PipelineInputError, match=r"eval.tasks\[0\]='capitals' is invalid; use truthfulqa_mc2"):
        check_config({"eval": {"tasks": ["capitals"]}})


def test_own_task_settings_for_a_task_not_evaluated_are_refused(study):
    settings = {"task_dirs": ["examples/own_task"], "own_tasks": {"capitals": {"label": "World capitals"}}}
    with pytest.raises(PipelineInputError, match="eval.own_tasks describes 'capitals', which eval.tasks does not list"):
        check_config({"eval": {"tasks": ["arc_easy"], **settings}})


def test_a_yaml_that_does_not_parse_is_one_line(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/bad.yaml").write_text("task: bad\ndoc_to_text: [unclosed\n  output_type: x\n")
    with pytest.raises(PipelineInputError, match="bad.yaml: lm-eval cannot load this task YAML") as error:
        find_own_tasks([str(tmp_path / "mine")], {})
    assert "\n" not in str(error.value)
