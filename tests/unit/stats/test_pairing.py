import pytest

from ll_hallucination_pipeline.stats.pairing import join_items, unique_by_hash
from ll_hallucination_pipeline.utils.errors import PipelineInputError


def test_join_refuses_mismatched_or_duplicated_items():
    with pytest.raises(PipelineInputError, match="item sets differ .1 only in baseline, 0 only after QLoRA"):
        join_items({"a": 1.0, "b": 0.0}, {"a": 1.0}, label="arc")
    base, post = join_items({"b": 0.0, "a": 1.0}, {"a": 0.5, "b": 0.25}, label="arc")
    assert base.tolist() == [1.0, 0.0] and post.tolist() == [0.5, 0.25]
    with pytest.raises(PipelineInputError, match="doc_hash x occurs twice"):
        unique_by_hash([{"doc_hash": "x"}, {"doc_hash": "x"}], label="arc")
