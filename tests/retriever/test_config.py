"""Presets and named-field overrides."""

from __future__ import annotations

import dataclasses

import pytest

from anatloc.ontology.errors import UsageError
from anatloc.retriever.config import (
    PRESETS,
    Preset,
    ScaleConfig,
    get_preset,
    list_presets,
    override_fields,
)


def test_presets_are_listed_and_documented():
    assert list_presets() == ["cpu-small", "paper"]
    small, paper = PRESETS["cpu-small"], PRESETS["paper"]
    assert (small.data.local.size, small.data.local.spacing) == (32, 3.0)
    assert (small.data.context.size, small.data.context.spacing) == (32, 12.0)
    assert small.data.local.extent_mm == 96 and small.data.context.extent_mm == 384
    assert (paper.data.local.size, paper.data.local.spacing) == (64, 1.5)
    assert paper.model.encoder.startswith("resnet") and small.model.encoder == "small"
    assert small.model.top_k == 3 and small.data.ct_dropout == 0.35


def test_overrides_by_named_field_and_frozen():
    p = get_preset(
        "cpu-small",
        epochs=2,
        batch_size=8,
        lr=1e-4,
        embed_dim=64,
        local_size=24,
        context_spacing=10.0,
        ct_dropout=0.5,
        seed=None,
    )
    assert (p.train.epochs, p.train.batch_size, p.train.lr) == (2, 8, 1e-4)
    assert p.model.embed_dim == 64 and p.data.ct_dropout == 0.5
    assert p.data.local == ScaleConfig(24, 3.0) and p.data.context == ScaleConfig(32, 10.0)
    assert p.train.seed == PRESETS["cpu-small"].train.seed  # None is "not given"
    assert PRESETS["cpu-small"].train.epochs != 2  # the registry is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.train.epochs = 3  # type: ignore[misc]


def test_bad_names_and_values_are_usage_errors():
    with pytest.raises(UsageError, match="unknown preset 'gpu'.*cpu-small, paper"):
        get_preset("gpu")
    with pytest.raises(UsageError, match="unknown configuration field 'epoch'"):
        get_preset("cpu-small", epoch=3)
    with pytest.raises(UsageError, match="probability"):
        get_preset("cpu-small", ct_dropout=1.5)
    with pytest.raises(UsageError, match="encoder"):
        get_preset("cpu-small", encoder="vit")
    with pytest.raises(UsageError, match="patch size"):
        get_preset("cpu-small", local_size=2)


def test_round_trip_through_a_dict():
    p = get_preset("paper", epochs=3)
    assert Preset.from_dict(p.to_dict()) == p
    d = p.to_dict()
    d["model"]["field_of_the_future"] = 1  # a newer anatloc's field is ignored
    assert Preset.from_dict(d) == p
    assert {"epochs", "embed_dim", "ct_dropout", "local_size"} <= set(override_fields())
