"""The fused LoRA update: peft's layer output and gradients, one rounding instead of three, same adapter."""

import pytest
import torch


def _peft_model(load, fused: bool):
    """A LoRA on every linear of the tiny NF4 model, with non-zero B (peft starts B at zero) and dropout."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from ll_hallucination_pipeline.training.lora_update import fuse_lora_updates

    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(prepare_model_for_kbit_training(load(), False), lora)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(0, 0.5)
    return model, fuse_lora_updates(model) if fused else 0


def _loss(model, autocast: bool) -> torch.Tensor:
    ids = torch.randint(0, 128, (2, 9), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)  # the same dropout masks for both models
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return model(input_ids=ids, labels=ids).loss


def _loss_and_gradients(model, autocast: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    loss = _loss(model, autocast)
    loss.backward()
    return loss.detach(), {name: p.grad for name, p in model.named_parameters() if "lora_" in name}


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.flatten().float(), b.flatten().float(), dim=0).item()


def test_fused_update_trains_like_peft_under_autocast(tiny_nf4_model):
    load = tiny_nf4_model("bfloat16")
    (peft_model, _), (fused_model, fused) = _peft_model(load, False), _peft_model(load, True)
    assert fused == 2 * 7  # q, k, v, o, gate, up, down of both layers
    loss, gradients = _loss_and_gradients(peft_model, autocast=True)
    fused_loss, fused_gradients = _loss_and_gradients(fused_model, autocast=True)

    assert fused_loss.item() == pytest.approx(loss.item(), rel=2e-3)
    assert gradients.keys() == fused_gradients.keys()
    assert all(_cosine(gradients[n], fused_gradients[n]) > 0.99 for n in gradients)
    # the update counts: without it the loss is another
    with fused_model.disable_adapter():
        unadapted = _loss(fused_model, autocast=True)
    assert abs(unadapted.item() - loss.item()) > 50 * abs(fused_loss.item() - loss.item())


def test_without_autocast_the_fused_layer_is_peft_s_own(tiny_nf4_model):
    load = tiny_nf4_model("float32")
    loss, gradients = _loss_and_gradients(_peft_model(load, False)[0], autocast=False)
    fused_loss, fused_gradients = _loss_and_gradients(_peft_model(load, True)[0], autocast=False)
    assert torch.equal(loss, fused_loss)
    assert all(torch.equal(gradients[n], fused_gradients[n]) for n in gradients)


def test_fused_model_saves_peft_s_adapter_files(tiny_nf4_model, tmp_path):
    load = tiny_nf4_model("bfloat16")
    model, _ = _peft_model(load, True)
    model.save_pretrained(tmp_path / "adapter")
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
    ]


def test_fused_layer_adds_its_update_in_one_addmm(tiny_nf4_model):
    model, _ = _peft_model(tiny_nf4_model("bfloat16"), True)
    model.eval()  # dropout off
    layer = model.base_model.model.model.layers[0].mlp.up_proj
    x = torch.randn(3, 5, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        fused = layer(x)
        base = layer.base_layer(x).reshape(15, -1)
        update = layer.lora_A["default"](x).reshape(15, -1)
        expected = torch.addmm(base, update, layer.lora_B["default"].weight.t(), alpha=layer.scaling["default"])
        peft_s = type(layer).forward(layer, x)
    assert torch.equal(fused, expected.view(3, 5, -1))
    assert not torch.equal(fused, peft_s)  # three roundings there
