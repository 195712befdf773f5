"""The retriever's training stream from the phantom."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from anatloc.ontology.errors import DataError, UsageError
from anatloc.retriever.config import DataConfig, ScaleConfig, get_preset
from anatloc.retriever.data import SampleSource
from anatloc.retriever.phantom_source import PhantomSource, phantom_sources

CFG = DataConfig(local=ScaleConfig(12, 4.0), context=ScaleConfig(10, 16.0))


@pytest.fixture(scope="module")
def src(toy_ont):
    return PhantomSource("internal", toy_ont, CFG, seed=3, n_samples=12, field_spacing=6.0)


def test_protocol_and_sample_layout(src, toy_ont):
    assert isinstance(src, SampleSource) and len(src) == 12
    it = src.samples(epoch=0, train=True)
    batch = [next(it) for _ in range(6)]
    nf = len(toy_ont.curies("fine"))
    fine_to_coarse = {
        i: toy_ont.curies("coarse").index(toy_ont[c].parent)
        for i, c in enumerate(toy_ont.curies("fine"))
    }
    for s in batch:
        assert tuple(s.local.shape) == (4, 12, 12, 12) and tuple(s.context.shape) == (4, 10, 10, 10)
        assert s.local.dtype == torch.float32
        assert all(0 <= f < nf for f in s.fine) and s.coarse == fine_to_coarse[s.fine[0]]
        assert float(s.local[3].max()) > 0  # the target lesion's mask
        assert float(s.local[0].abs().max()) <= 1.0  # CT scaled by the retriever's rule
    assert any(float(s.local[1].max()) == 0 for s in batch) or all(
        float(s.local[1].min()) == 1 for s in batch
    )


def test_samples_are_deterministic(src):
    a = list(src.samples(epoch=0, train=False))
    b = list(src.samples(epoch=0, train=False))
    assert len(a) == 12
    assert all(
        torch.equal(x.local, y.local) and x.fine == y.fine for x, y in zip(a, b, strict=True)
    )
    r0 = [s.fine for s in src.samples(epoch=0, rank=0, world_size=2, train=False)]
    r1 = [s.fine for s in src.samples(epoch=0, rank=1, world_size=2, train=False)]
    assert len(r0) + len(r1) == 12
    e0 = next(src.samples(epoch=0, train=True))
    e1 = next(src.samples(epoch=1, train=True))
    assert not torch.equal(e0.local, e1.local)


def test_validation_covers_every_location(toy_ont):
    n = len(toy_ont.curies("fine"))
    src = PhantomSource(
        "internal",
        toy_ont,
        CFG,
        seed=0,
        n_samples=2 * n,
        distractors=0.0,
        samples_per_subject=n,
        field_spacing=6.0,
    )
    scenes = [src.lesion_scene(i, train=False) for i in range(2 * n)]
    targets = {sc.lesions[0].target for sc, _, _, _ in scenes}
    assert len(targets) == n
    assert {sc.subject.sex for sc, _, _, _ in scenes} == {"male", "female"}


def test_cache_roundtrip(src, toy_ont, tmp_path):
    out = src.build_cache(tmp_path / "cache", n=5, shard_size=2)
    man = json.loads((out / "manifest.json").read_text())
    assert man["n"] == 5 and len(man["shards"]) == 3
    cached = PhantomSource("internal", toy_ont, CFG, seed=3, cache_dir=out, field_spacing=6.0)
    assert len(cached) == 5
    val = list(cached.samples(epoch=0, train=False))
    assert len(val) == 5 and tuple(val[0].local.shape) == (4, 12, 12, 12)
    it = cached.samples(epoch=0, train=True)
    assert len([next(it) for _ in range(7)]) == 7  # endless
    other = DataConfig(local=ScaleConfig(16, 4.0), context=ScaleConfig(10, 16.0))
    with pytest.raises(DataError, match="rebuild it"):
        PhantomSource("internal", toy_ont, other, cache_dir=out)
    with pytest.raises(DataError, match="does not exist"):
        PhantomSource("internal", toy_ont, CFG, cache_dir=tmp_path / "none")


def test_the_retriever_finds_the_source(toy_ont):
    # the sampler's settings are given when the source is made (setting them later on the
    # source has no effect since they moved into anatloc.phantom.sampling.LesionSampler)
    s = PhantomSource("external", toy_ont, CFG, seed=1, field_spacing=6.0)
    assert isinstance(s, PhantomSource) and s.profile.name == "external"
    x = next(s.samples(epoch=0, train=True))
    assert np.isfinite(x.local.numpy()).all()


def test_cache_codes_keep_what_the_network_sees():
    from anatloc.retriever.phantom_source import decode_blocks, encode_block

    rng = np.random.default_rng(0)
    raw = np.stack(
        [rng.uniform(-1000, 1500, (8, 8, 8)), rng.gamma(1.0, 3.0, (8, 8, 8)), rng.random((8, 8, 8))]
    ).astype(np.float32)
    back = decode_blocks(encode_block(raw)[None])[0]
    window = (raw[0] > -180) & (raw[0] < 260)
    assert np.abs(back[0] - raw[0])[window].max() <= 1.0  # half a 1.9 HU step
    low = raw[1] < 10
    assert np.abs(back[1] - raw[1])[low].max() < 0.15
    assert np.abs(back[2] - raw[2]).max() <= 0.5 / 255 + 1e-6


def test_a_cache_outlives_description_edits_but_not_a_renamed_location(src, toy_ont, tmp_path):
    """The images depend on the geometry and the locations, not on the words: regenerated
    descriptions keep a cache (and rendered test sets) valid; a renamed location does not."""
    import dataclasses

    from anatloc.ontology.model import Ontology
    from anatloc.phantom.body import body_model

    out = src.build_cache(tmp_path / "cache", n=3, shard_size=3)

    def edited(change) -> Ontology:
        terms = [change(t) for t in toy_ont]
        return Ontology(terms, toy_ont.meta, foreign=toy_ont.foreign)

    reworded = edited(lambda t: dataclasses.replace(t, description=f"{t.label}: reworded."))
    assert reworded.content_hash() != toy_ont.content_hash()
    assert body_model(reworded).phantom_key == body_model(toy_ont).phantom_key
    assert len(PhantomSource("internal", reworded, CFG, cache_dir=out, field_spacing=6.0)) == 3

    first = toy_ont.curies("fine")[0]
    renamed = edited(
        lambda t: dataclasses.replace(t, label=t.label + " renamed") if t.curie == first else t
    )
    assert body_model(renamed).phantom_key != body_model(toy_ont).phantom_key
    with pytest.raises(DataError, match="rebuild it"):
        PhantomSource("internal", renamed, CFG, cache_dir=out)


def test_lesions_per_body_choose_the_bodies_and_a_cache_remembers_them(toy_ont, tmp_path):
    """``per_subject`` sets how many lesions share a body; a cache records it and refuses to
    be reused for another value (its lesions would come from other bodies)."""
    preset = dataclasses.replace(get_preset("cpu-small"), data=CFG)
    stream, _ = phantom_sources("internal", toy_ont, preset, 4, per_subject=2)
    assert stream.per_body == 2
    subjects = [stream.lesion_scene(i)[0].subject for i in range(4)]
    assert subjects[0] == subjects[1] and subjects[1] != subjects[2]

    cache = tmp_path / "cache"
    train, _ = phantom_sources("internal", toy_ont, preset, 4, cache, per_subject=2)
    assert train.per_body == 2
    assert json.loads((cache / "train" / "manifest.json").read_text())["samples_per_subject"] == 2
    again, _ = phantom_sources("internal", toy_ont, preset, 4, cache, per_subject=2)
    assert len(again) == 4
    for other in (3, None):  # None: the default for a cache, 512
        with pytest.raises(DataError, match="another phantom cache"):
            phantom_sources("internal", toy_ont, preset, 4, cache, per_subject=other)
    with pytest.raises(UsageError, match="at least 1"):
        phantom_sources("internal", toy_ont, preset, 4, per_subject=0)


def test_an_interrupted_cache_is_not_finished_with_other_settings(toy_ont, tmp_path):
    """Shards of an interrupted build are reused by the next one, so a rerun with other
    settings (here: lesions per body) must not mix its shards with them."""
    a = PhantomSource("internal", toy_ont, CFG, seed=3, samples_per_subject=2, field_spacing=6.0)
    out = a.build_cache(tmp_path / "cache", n=4, shard_size=2)
    (out / "manifest.json").unlink()  # as if stopped before the end
    (out / "shard-00001.npz").unlink()
    b = PhantomSource("internal", toy_ont, CFG, seed=3, samples_per_subject=4, field_spacing=6.0)
    with pytest.raises(DataError, match="holds part of another phantom cache"):
        b.build_cache(out, n=4, shard_size=2)
    assert sorted(p.name for p in out.iterdir()) == ["build.json", "shard-00000.npz"]
    a.build_cache(out, n=4, shard_size=2)  # the same settings finish it
    assert json.loads((out / "manifest.json").read_text())["samples_per_subject"] == 2
