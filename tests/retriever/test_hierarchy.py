"""Coarse-to-fine retrieval: the fine search stays under the top-k coarse, abstention."""

from __future__ import annotations

import torch

from anatloc.retriever.hierarchy import (
    fine_to_coarse_table,
    flat_retrieve,
    large_lesions,
    retrieve,
)


def _tables(ont):
    return fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse"))


def test_fine_predictions_are_children_of_the_top_k_coarse(shipped):
    f2c = _tables(shipped)
    g = torch.Generator().manual_seed(0)
    B, Nc, Nf = 64, 124, 387
    assert f2c.shape == (Nf,) and int(f2c.max()) == Nc - 1
    for k in (1, 3, 5):
        cs, fs = torch.randn(B, Nc, generator=g), torch.randn(B, Nf, generator=g)
        r = retrieve(cs, fs, 10.0, f2c, top_k=k)
        assert r.coarse_top.shape == (B, k)
        assert (r.coarse_top == f2c[r.fine][:, None]).any(1).all()
        ok = r.fine_top_prob > 0
        assert ((r.coarse_top[:, None, :] == f2c[r.fine_top][:, :, None]).any(2) | ~ok).all()
        assert torch.equal(r.coarse, f2c[r.fine])  # never inconsistent
        assert not r.abstained.any()


def test_fine_choice_follows_fine_similarity_within_the_mask(shipped):
    f2c = _tables(shipped)
    liver = shipped.curies("coarse").index(shipped.get("Liver", level="coarse").curie)
    s7 = shipped.curies("fine").index(shipped.get("Liver S7").curie)
    cs = torch.zeros(1, 124)
    cs[0, liver] = 1.0
    fs = torch.zeros(1, 387)
    fs[0, s7] = 0.5
    fs[0, 0] = 0.9  # a better fine score outside the searched coarse locations is ignored
    r = retrieve(cs, fs, 20.0, f2c, top_k=1)
    assert int(r.fine[0]) == s7 and int(r.coarse[0]) == liver
    flat = flat_retrieve(fs, 20.0, f2c)
    assert int(flat.fine[0]) == 0


def test_abstains_when_fine_is_not_confident_and_for_large_lesions(shipped):
    f2c = _tables(shipped)
    liver = shipped.curies("coarse").index(shipped.get("Liver", level="coarse").curie)
    cs = torch.zeros(2, 124)
    cs[:, liver] = 1.0
    fs = torch.zeros(2, 387)  # all liver segments alike: q = 1/10 each
    r = retrieve(cs, fs, 30.0, f2c, top_k=1, abstain_threshold=0.3)
    assert r.abstained.all() and (r.coarse == liver).all()
    assert torch.allclose(r.fine_prob, torch.full((2,), 0.1), atol=1e-4)
    assert torch.allclose(r.score, torch.ones(2), atol=1e-4)  # the coarse mass
    r = retrieve(cs, fs, 30.0, f2c, top_k=1, abstain_threshold=0.05)
    assert not r.abstained.any()
    large = large_lesions(torch.tensor([[120.0, 150.0, 130.0], [120.0, 90.0, 130.0]]), 100.0)
    assert large.tolist() == [True, False]
    r = retrieve(cs, fs, 30.0, f2c, top_k=1, large=large)
    assert r.abstained.tolist() == [True, False]


def test_coarse_without_children_backs_off(tiny):
    tiny.add("Spleen", tiny.get("Abdomen"), level="coarse")  # no fine children
    f2c = _tables(tiny)
    nc = len(tiny.curies("coarse"))
    spleen = tiny.curies("coarse").index(tiny.get("Spleen").curie)
    cs = torch.full((1, nc), -1.0)
    cs[0, spleen] = 1.0
    r = retrieve(cs, torch.zeros(1, len(tiny.curies("fine"))), 50.0, f2c, top_k=1)
    assert bool(r.abstained[0]) and int(r.coarse[0]) == spleen and torch.isfinite(r.score).all()
