"""Precision of a 4-bit model prepared for training: upcasts undone or stored compactly, no number changed."""

import torch


def test_cast_unquantized_undoes_the_kbit_upcast_and_leaves_4bit_weights_alone(tiny_nf4_model):
    from peft import prepare_model_for_kbit_training

    from ll_hallucination_pipeline.training.training_precision import cast_unquantized

    model = prepare_model_for_kbit_training(tiny_nf4_model("bfloat16")(), False)
    packed = {name: p.data.clone() for name, p in model.named_parameters() if p.dtype == torch.uint8}
    upcast = {name for name, p in model.named_parameters() if p.dtype == torch.float32}
    assert packed and {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"} <= upcast

    cast_unquantized(model, "bfloat16")
    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    assert all(dtypes[name] == torch.bfloat16 for name in upcast)
    assert all(torch.equal(p.data, packed[name]) for name, p in model.named_parameters() if name in packed)


def _lora_loss_and_gradients(model) -> tuple[torch.Tensor, list[torch.Tensor]]:
    ids = torch.randint(0, 128, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.detach(), [p.grad for name, p in model.named_parameters() if "lora_" in name]


def test_compact_tables_change_no_number_of_mixed_precision_training(tiny_nf4_model):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from ll_hallucination_pipeline.training.training_precision import store_upcast_tables_compactly

    load = tiny_nf4_model("bfloat16")
    lora = LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM")
    results = []
    for compact in (False, True):
        model = prepare_model_for_kbit_training(load(), False)
        if compact:
            store_upcast_tables_compactly(model, "bfloat16")
            dtypes = {name: p.dtype for name, p in model.named_parameters()}
            assert dtypes["model.embed_tokens.weight"] == dtypes["lm_head.weight"] == torch.bfloat16
            assert dtypes["model.norm.weight"] == torch.float32
        torch.manual_seed(0)
        results.append(_lora_loss_and_gradients(get_peft_model(model, lora)))
    (loss, gradients), (compact_loss, compact_gradients) = results
    assert torch.equal(loss, compact_loss)
    assert gradients and all(g.abs().sum() > 0 for g in gradients[1::2])
    assert all(torch.equal(a, b) for a, b in zip(gradients, compact_gradients, strict=True))
