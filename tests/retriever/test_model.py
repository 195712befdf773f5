"""The networks: shapes, unit embeddings, the clamped temperature, sizes."""

from __future__ import annotations

import math

import pytest
import torch

from anatloc.retriever.config import get_preset
from anatloc.retriever.model import Retriever, SmallEncoder3D, count_parameters


def test_small_model_shapes_and_unit_embeddings():
    torch.manual_seed(0)
    p = get_preset("cpu-small")
    m = Retriever(p.model).eval()
    x = torch.randn(3, 4, 32, 32, 32)
    with torch.no_grad():
        img = m.encode_image(x, x.clone())
        out = m(x, x.clone(), torch.randn(124, 384), torch.randn(387, 384))
    assert img.coarse.shape == (3, 256) and img.fine.shape == (3, 256)
    assert torch.allclose(img.fine.norm(dim=1), torch.ones(3), atol=1e-5)
    assert out["text_fine"].shape == (387, 256) and out["text_coarse"].shape == (124, 256)
    assert torch.allclose(out["text_fine"].norm(dim=1), torch.ones(387), atol=1e-5)
    assert out["logit_scale"].item() == pytest.approx(1 / 0.07, rel=1e-5)
    assert 1.5e6 < count_parameters(m) < 2.5e6  # a checkpoint under 10 MB


def test_temperature_is_clamped_and_layout_survives_pooling():
    m = Retriever(get_preset("cpu-small").model)
    with torch.no_grad():
        m.logit_scale.fill_(10.0)
    assert m.scale().item() == pytest.approx(100.0)
    enc = SmallEncoder3D(4, (16, 32, 64, 128), pooled_size=2)
    assert enc.out_features == 128 * 8
    # mirror images give different features: the head sees where things are
    enc.eval()
    x = torch.zeros(1, 4, 32, 32, 32)
    x[0, 2, :8] = 5.0
    with torch.no_grad():
        a, b = enc(x), enc(x.flip(2))
    assert not torch.allclose(a, b)


def test_text_adapter_embeds_new_terms_without_retraining():
    m = Retriever(get_preset("cpu-small").model)
    new = m.encode_text("fine", torch.randn(5, 384))
    assert new.shape == (5, 256)


@pytest.mark.slow
def test_paper_preset_is_a_monai_resnet_per_scale():
    p = get_preset("paper")
    m = Retriever(p.model).eval()
    n = count_parameters(m)
    assert 5e7 < n < 1e8
    assert type(m.local_encoder.net).__module__.startswith("monai")
    with torch.no_grad():
        img = m.encode_image(torch.randn(1, 4, 64, 64, 64), torch.randn(1, 4, 64, 64, 64))
    assert img.fine.shape == (1, p.model.embed_dim)
    assert math.isclose(float(img.fine.norm()), 1.0, rel_tol=1e-4)


def _random_batchnorm_statistics(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm3d):
            n = mod.num_features
            mod.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(n, generator=g) - 0.5)


@pytest.mark.parametrize("preset", ["cpu-small", "paper"])
def test_inference_folding_removes_every_batchnorm_and_keeps_the_function(preset):
    """MONAI's ResNet calls convK then bnK by name, outside any Sequential: those pairs are
    folded too (before, the paper preset kept all 42 of its BatchNorms at inference)."""
    import copy

    from anatloc.retriever.model import fuse_for_inference

    torch.manual_seed(0)
    m = Retriever(get_preset(preset).model).eval()
    _random_batchnorm_statistics(m)
    x, y = torch.randn(2, 4, 32, 32, 32), torch.randn(2, 4, 32, 32, 32)
    with torch.no_grad():
        ref = m.encode_image(x, y).fine
        fused = fuse_for_inference(copy.deepcopy(m))
        out = fused.encode_image(x, y).fine
    assert not any(isinstance(mod, torch.nn.BatchNorm3d) for mod in fused.modules())
    assert torch.allclose(out, ref, atol=1e-5)
