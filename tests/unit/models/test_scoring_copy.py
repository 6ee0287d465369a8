"""The scoring copy of a model under LoRA training: the source's numbers in the scorer's layers, its trained weights
as they are at each call, and the source's 4-bit weights left trainable."""

import pytest
import torch

from ll_hallucination_pipeline.models.inference_layers import LoraAddmmLinear
from ll_hallucination_pipeline.models.scoring_copy import ScoringCopy


def _training_model(tiny_nf4_model, **lora_keys):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, **lora_keys)
    return get_peft_model(tiny_nf4_model("float32")(), lora).train()


def _source_logits(model, ids):
    # A gradient-tracking forward: bitsandbytes dequantizes and multiplies, and repacks nothing.
    with torch.enable_grad():
        return model(ids).logits.detach()


@pytest.mark.parametrize("lora_keys", [{}, {"modules_to_save": ["lm_head"]}], ids=["lora", "lm_head_trained_whole"])
def test_the_copy_follows_the_source_as_training_changes_it(tiny_nf4_model, lora_keys):
    import bitsandbytes as bnb

    model = _training_model(tiny_nf4_model, **lora_keys)
    scoring = ScoringCopy(model, torch.float32)
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in scoring.model.modules())
    assert sum(isinstance(m, LoraAddmmLinear) for m in scoring.model.modules()) == 2 * 7
    ids = torch.randint(0, 128, (2, 9))
    before = _source_logits(model, ids)
    with torch.no_grad():
        assert torch.allclose(scoring.current()(ids).logits, before, atol=1e-5)
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.1)  # a training step's change, everywhere it trains
    after = _source_logits(model, ids)
    assert (after - before).abs().max() > 1e-2
    with torch.no_grad():
        assert torch.allclose(scoring.current()(ids).logits, after, atol=1e-5)


def test_the_sources_4bit_weights_still_train_after_the_copy_scored(tiny_nf4_model):
    model = _training_model(tiny_nf4_model)
    scoring = ScoringCopy(model, torch.float32)
    ids = torch.randint(0, 128, (2, 9))
    with torch.no_grad():
        scoring.current()(ids)
    model(ids).logits.sum().backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_A" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)
