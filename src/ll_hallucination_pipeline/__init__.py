"""ll-hallucination-pipeline: QLoRA vs truthfulness/knowledge."""
