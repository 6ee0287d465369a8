"""The base model path is checked to be a loadable checkpoint, and a wrong one says how to fix it."""

import pytest

from ll_hallucination_pipeline.models.model_paths import check_model_dir
from ll_hallucination_pipeline.utils.errors import PipelineInputError


def test_a_gguf_model_path_says_how_to_convert_it(tmp_path):
    gguf = tmp_path / "model.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(PipelineInputError, match=r"is a GGUF file; .*convert_gguf_to_hf\('.*model.Q4_1.gguf'"):
        check_model_dir(gguf)
