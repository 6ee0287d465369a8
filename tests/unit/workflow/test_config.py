import pytest

from ll_hallucination_pipeline.utils.errors import PipelineInputError
from ll_hallucination_pipeline.workflow.config import check_config


def test_defaults_fill_an_empty_config():
    config = check_config({})
    assert config["eval"]["tasks"] == ["truthfulqa_mc2", "arc_easy"]
    assert config["eval"]["seeds"] == [0, 1, 2]
    assert config["quantization"]["mode"] == "nf4"
    assert config["eval"]["limit"] is None
    assert config["eval"]["token_budget"] == "auto"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"eval": {"tasks": ["truthfulqa_mc2", "arc_eazy"]}},
            "config.yaml: eval.tasks[1]='arc_eazy' is invalid; use truthfulqa_mc2 or truthfulqa_mc1 or arc_easy or "
            "arc_challenge",
        ),
        ({"evl": {}}, "config.yaml: evl is not a known key; remove it; allowed keys are model,"),
        ({"eval": {"limti": 3}}, "config.yaml: eval.limti is not a known key; remove it; allowed keys are tasks,"),
        ({"eval": {"seeds": "0"}}, "config.yaml: eval.seeds='0' is invalid; give a value of type array"),
        ({"eval": {"limit": 0}}, "config.yaml: eval.limit=0 is invalid; 0 is less than the minimum of 1"),
        ({"quantization": {"mode": "nf5"}}, "config.yaml: quantization.mode='nf5' is invalid; use nf4 or fp4 or int8"),
        (
            {"eval": {"token_budget": 100}},
            "config.yaml: eval.token_budget=100 is invalid; use an integer >= 256 or 'auto'",
        ),
        ({"stats": {"confidence_level": 1.5}}, "config.yaml: stats.confidence_level=1.5 is invalid; 1.5 is greater"),
    ],
)
def test_each_bad_config_gets_one_readable_line(config, message):
    with pytest.raises(PipelineInputError) as info:
        check_config(config)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_key_given_twice_is_refused(tmp_path):
    from ll_hallucination_pipeline.workflow.config import check_config_files

    path = tmp_path / "config.yaml"
    path.write_text("eval:\n  seeds: [0]\nstats:\n  seed: 1\neval:\n  seeds: [1, 2]\n")
    with pytest.raises(PipelineInputError, match="config.yaml: line 5: key 'eval' is given twice; keep one"):
        check_config_files([path])
    path.write_text("eval:\n  seeds: [0]\n  seeds: [1]\n")
    with pytest.raises(PipelineInputError, match="line 3: key 'seeds' is given twice"):
        check_config_files([path])
    path.write_text("eval:\n  seeds: [0]\n")
    check_config_files([path, tmp_path / "absent.yaml"])


@pytest.mark.parametrize("value", [0, -5, 100_000])
def test_a_generation_length_out_of_range_is_one_line(value):
    with pytest.raises(PipelineInputError, match=rf"config.yaml: eval.max_gen_toks={value} is invalid; "):
        check_config({"eval": {"tasks": ["nq_open"], "max_gen_toks": value}})


def test_generation_tasks_are_known_with_lm_evals_default_length():
    config = check_config({"eval": {"tasks": ["truthfulqa_gen", "nq_open"]}})
    assert config["eval"]["max_gen_toks"] == 256


@pytest.mark.parametrize(
    ("precisions", "message"),
    [
        (["nf4", "fp8"], r"eval.precisions\[1\]='fp8' is invalid"),
        (["bf16"], "lacks nf4, the base the adapters are trained on"),
        (["nf4", "merged"], "has merged without bf16; .* add bf16: \\[nf4, bf16, merged\\]"),
    ],
)
def test_a_bad_precision_list_is_one_line(precisions, message):
    with pytest.raises(PipelineInputError, match=message):
        check_config({"eval": {"precisions": precisions}})


def test_the_study_runs_on_nf4_alone_by_default():
    assert check_config({})["eval"]["precisions"] == ["nf4"]
