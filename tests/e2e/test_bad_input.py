"""Each bad input stops before any job with one message naming the fix; nothing computed is touched."""

from __future__ import annotations

import json

from tests.helpers import run_snakemake, write_config


def test_missing_model_path(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)})
    done = run_snakemake(tmp_path, "all", "-n", env={"MODEL_PATH": str(tmp_path / "no-such-model")})
    assert done.returncode != 0
    assert "no-such-model does not exist; set MODEL_PATH or model.path" in done.stdout


def test_model_path_without_weights(tiny_data, tmp_path):
    model = tmp_path / "empty-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    write_config(tmp_path / "w", data={"source": "local", "local_dir": str(tiny_data)}, model={"path": str(model)})
    done = run_snakemake(tmp_path / "w", "all", "-n")
    assert done.returncode != 0 and "holds no *.safetensors or *.bin weights" in done.stdout


def test_unknown_task(tiny_data, tmp_path):
    write_config(tmp_path, eval={"tasks": ["truthfulqa_mc2", "arc_eazy"]})
    done = run_snakemake(tmp_path, "all", "-n")
    assert done.returncode != 0
    assert "eval.tasks[1]='arc_eazy' is invalid; use truthfulqa_mc2 or truthfulqa_mc1 or arc_easy" in done.stdout
    assert 'File "' not in done.stdout  # one line, no traceback


def test_malformed_config(tmp_path):
    (tmp_path / "config.yaml").write_text("eval: [unclosed\n")
    done = run_snakemake(tmp_path, "all", "-n")
    assert done.returncode != 0 and "Config file is not valid JSON or YAML" in done.stdout


def test_a_config_key_given_twice(tmp_path):
    (tmp_path / "config.yaml").write_text("eval:\n  seeds: [0]\neval:\n  seeds: [1]\n")
    done = run_snakemake(tmp_path, "all", "-n")
    assert done.returncode != 0 and "config.yaml: line 3: key 'eval' is given twice; keep one" in done.stdout
    assert 'File "' not in done.stdout


def test_limit_in_a_final_results_target(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)}, eval={"limit": 4})
    done = run_snakemake(tmp_path, "evals/baseline/arc_easy_seed0_full/results.json", "-n")
    assert done.returncode != 0
    assert "eval.limit=4 is set but a final-results target was requested; unset eval.limit" in done.stdout
    assert 'File "' not in done.stdout


def test_wrong_data_schema_fails_early_and_keeps_results(tiny_data, tmp_path):
    bad_dir = tmp_path / "data"
    (bad_dir / "arc_easy").mkdir(parents=True)
    (bad_dir / "arc_easy" / "test.jsonl").write_text(json.dumps({"question": "q?", "answer": "A"}) + "\n")
    work = tmp_path / "w"
    no_training = {"recipes": []}
    write_config(
        work, data={"source": "local", "local_dir": str(bad_dir)}, eval={"tasks": ["arc_easy"]}, qlora=no_training
    )
    earlier = work / "evals/baseline/keep.txt"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("computed before")
    done = run_snakemake(work, "data/arc_easy.jsonl", "--cores", "1")
    assert done.returncode != 0
    assert "arc_easy/test.jsonl: record 1 lacks field 'id' of type str" in done.stdout
    assert not (work / "logs").exists()  # stopped when the workflow loaded: no job ran
    assert earlier.read_text() == "computed before"


def test_a_source_turned_bad_keeps_what_was_prepared_from_it(tiny_data, tmp_path):
    source = tmp_path / "data"
    (source / "arc_easy").mkdir(parents=True)
    good = (tiny_data / "arc_easy/test.jsonl").read_text()
    (source / "arc_easy/test.jsonl").write_text(good)
    work = tmp_path / "w"
    no_training = {"recipes": []}
    write_config(
        work, data={"source": "local", "local_dir": str(source)}, eval={"tasks": ["arc_easy"]}, qlora=no_training
    )
    assert run_snakemake(work, "data/arc_easy.jsonl", "--cores", "1").returncode == 0
    prepared = (work / "data/arc_easy.jsonl").read_bytes()
    record = json.loads(good.splitlines()[0]) | {"answerKey": "Z"}
    (source / "arc_easy/test.jsonl").write_text(json.dumps(record) + "\n" + "\n".join(good.splitlines()[1:]) + "\n")
    done = run_snakemake(work, "all", "--cores", "1")
    assert done.returncode != 0
    assert "arc_easy/test.jsonl: record 1: answerKey 'Z' is not among its labels" in done.stdout
    assert (work / "data/arc_easy.jsonl").read_bytes() == prepared


def test_a_judge_that_is_no_causal_lm_or_without_its_task(tiny_data, tmp_path):
    judge = tmp_path / "classifier"
    judge.mkdir()
    (judge / "config.json").write_text(json.dumps({"architectures": ["RobertaForSequenceClassification"]}))
    data = {"source": "local", "local_dir": str(tiny_data)}
    write_config(tmp_path / "a", data=data, eval={"tasks": ["truthfulqa_gen"]}, judge={"model": str(judge)})
    done = run_snakemake(tmp_path / "a", "all", "-n")
    assert done.returncode != 0 and "judge.model=" in done.stdout and "is not a causal LM" in done.stdout
    write_config(tmp_path / "b", data=data, judge={"model": str(judge)})
    done = run_snakemake(tmp_path / "b", "all", "-n")
    assert done.returncode != 0 and "eval.tasks has no truthfulqa_gen; add truthfulqa_gen" in done.stdout


def test_an_external_adapter_that_does_not_fit_the_base_is_refused_before_any_job(tiny_data, tmp_path):
    from tests.unit.models.test_adapters import adapter, base_model

    model, lora = base_model(tmp_path / "base"), adapter(tmp_path / "lora", a=(2, 5))
    write_config(tmp_path / "w", data={"source": "local", "local_dir": str(tiny_data)})
    env = {"MODEL_PATH": str(model), "LORA_ADAPTER_PATH": str(lora)}
    done = run_snakemake(tmp_path / "w", "all", "--cores", "1", env=env)
    assert done.returncode != 0 and f"adapter {lora} does not fit the base model {model}" in done.stdout
    assert "rule " not in done.stdout and not (tmp_path / "w/logs").exists()  # no job ran
