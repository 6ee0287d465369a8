"""Models: where the base checkpoint is, how it is quantized and loaded, the embedded GGUF converted, the
layers swapped in for scoring, adapters checked, weights hashed.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "adapters": [
            "MANIFEST_NAME",
            "check_adapter_dir",
            "external_adapter",
            "named_other_base",
            "sort_target_modules",
            "tensor_shapes",
        ],
        "fingerprint": ["model_fingerprint"],
        "gguf_conversion": ["convert_gguf_to_hf", "embedded_gguf_path"],
        "inference_layers": ["cast_float32_parameters", "plain_lora_adapter"],
        "model_loading": ["check_unquantized_fits", "load_model", "load_tokenizer"],
        "model_paths": ["check_judge_dir", "resolve_model_path"],
        "quantization": ["QuantizationSettings", "quantization_from_config", "torch_dtype"],
        "scoring_copy": ["ScoringCopy"],
        "weights_hash": ["provenance_sha256", "recorded_weights_sha256", "weights_sha256", "write_weights_record"],
    },
)
