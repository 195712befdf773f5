"""The negative walker: bands, properties of the sampled negatives, masks for the loss."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anatloc.kgtools.graph import KnowledgeGraph
from anatloc.kgtools.walker import EASY, SEMI_HARD, Walker
from anatloc.ontology import UsageError

N_FINE = 387
POSITIVE_SETS = st.lists(
    st.lists(st.integers(0, N_FINE - 1), min_size=1, max_size=3), min_size=1, max_size=8
)


def idx(walker: Walker, *names: str) -> list[int]:
    return [walker.index(n) for n in names]


def names(walker: Walker, row) -> set[str]:
    vocab = walker.curies()
    return {walker.kg.graph.nodes[vocab[j]]["label"] for j in np.flatnonzero(row)}


@settings(max_examples=60, deadline=None)
@given(positives=POSITIVE_SETS, k=st.integers(1, 32), seed=st.integers(0, 2**32 - 1))
def test_a_negative_is_never_a_positive_nor_excluded(walker, positives, k, seed):
    neg, bands = walker.negatives(positives, k, rng=seed, return_bands=True)
    masks = walker.band_masks(positives)
    assert neg.shape == (len(positives), k) and neg.dtype == np.int64
    for b, pos in enumerate(positives):
        row = neg[b].tolist()
        assert len(set(row)) == k  # distinct
        assert not set(row) & set(pos)
        assert not masks["excluded"][b, row].any()
        for j, band in zip(row, bands[b].tolist(), strict=True):
            assert band == (SEMI_HARD if masks["semi_hard"][b, j] else EASY)
            assert masks["easy"][b, j] == (band == EASY)
    again = walker.negatives(positives, k, rng=seed)
    assert np.array_equal(neg, again)  # same seed, same negatives


@settings(max_examples=30, deadline=None)
@given(positives=POSITIVE_SETS)
def test_excluded_is_the_union_of_the_ambiguous_sets(walker, positives):
    kg = walker.kg
    vocab = walker.curies()
    masks = walker.band_masks(positives)
    for b, pos in enumerate(positives):
        want = set(pos)
        for i in pos:
            want |= {vocab.index(c) for c in kg.ambiguous(vocab[i]) if c in vocab}
        assert set(np.flatnonzero(masks["excluded"][b]).tolist()) == want
    total = masks["excluded"].astype(int) + masks["semi_hard"] + masks["easy"]
    assert (total == 1).all()  # disjoint and covering
    assert np.array_equal(walker.negative_mask(positives), ~masks["excluded"])


def test_padded_array_and_list_of_sets_agree(walker):
    sets = [{3}, {5, 7}, {9, 10, 11}]
    padded = np.array([[3, -1, -1], [5, 7, -1], [9, 10, 11]])
    a, b = walker.band_masks(sets), walker.band_masks(padded)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    flat = walker.band_masks(np.array([3, 5]))
    assert np.array_equal(flat["excluded"][0], a["excluded"][0])
    assert np.array_equal(
        walker.negatives(padded, 8, rng=1), walker.negatives([[3], [5, 7], [9, 10, 11]], 8, rng=1)
    )
    assert walker.band_masks([["Liver S7", "Liver S8"]])["excluded"][0, idx(walker, "Liver S8")]


def test_every_fine_term_gets_at_least_k_candidates(walker):
    k = 16
    masks = walker.band_masks(np.arange(N_FINE))
    assert (masks["semi_hard"].sum(axis=1) >= k).all()
    assert (masks["semi_hard"].sum(axis=1) <= 64).all()  # max_semi_hard keeps the band close
    assert ((~masks["excluded"]).sum(axis=1) >= k).all()
    neg = walker.negatives(np.arange(N_FINE), k, rng=0)
    assert neg.shape == (N_FINE, k) and (neg >= 0).all()


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_band_frequencies_follow_the_mix(walker, share):
    rng = np.random.default_rng(7)
    positives = rng.integers(0, N_FINE, 2000)
    _, bands = walker.negatives(
        positives, 8, {"semi-hard": share, "easy": 1 - share}, rng=3, return_bands=True
    )
    observed = (bands == SEMI_HARD).mean()
    assert abs(observed - share) < 0.02


def test_semi_hard_draws_follow_the_walk_weights(walker):
    i = walker.index("Liver S7")
    weights = walker.candidate_weights([i])[0]
    neg = walker.negatives(np.full(40000, i), 1, 1.0, rng=11)[:, 0]
    freq = np.bincount(neg, minlength=N_FINE) / neg.size
    assert np.abs(freq - weights).max() < 0.01
    assert set(np.flatnonzero(freq).tolist()) <= set(np.flatnonzero(weights).tolist())


def test_liver_s7_bands(walker):
    m = walker.band_masks(idx(walker, "Liver S7"))
    semi = names(walker, m["semi_hard"][0])
    assert {f"Liver S{i}" for i in (1, 2, 3, 4, 5, 6, 8)} <= semi
    assert {"Right diaphragm", "Right adrenal gland"} <= semi
    assert names(walker, m["excluded"][0]) == {"Liver S7", "Around the liver"}
    assert "Tongue" in names(walker, m["easy"][0])


def test_vertebra_and_rib_neighbours_are_semi_hard(walker):
    m = walker.band_masks(idx(walker, "Vertebra T7", "Rib L7"))
    assert {"Vertebra T6", "Vertebra T8", "Rib L7", "Rib R7"} <= names(walker, m["semi_hard"][0])
    assert "Near vertebra T7" in names(walker, m["excluded"][0])
    assert {"Rib R7", "Rib L6", "Rib L8", "Vertebra T7"} <= names(walker, m["semi_hard"][1])


def test_max_semi_hard_keeps_the_heaviest(kg, walker):
    small = Walker(kg, min_semi_hard=4, max_semi_hard=8)
    i = walker.index("Liver S7")
    w_all, w_few = walker.candidate_weights([i])[0], small.candidate_weights([i])[0]
    assert (w_few > 0).sum() == 8
    heaviest = set(np.argsort(-w_all, kind="stable")[:8].tolist())
    assert set(np.flatnonzero(w_few).tolist()) == heaviest
    with pytest.raises(UsageError, match="max_semi_hard"):
        Walker(kg, max_semi_hard=2)


def test_candidate_weights(walker):
    w = walker.candidate_weights(np.arange(20))
    m = walker.band_masks(np.arange(20))
    assert np.allclose(w.sum(axis=1), 1.0)
    assert np.array_equal(w > 0, m["semi_hard"])


def test_coarse_level(kg):
    walker = Walker(kg, level="coarse")
    assert len(walker.curies()) == 124
    liver = walker.index("Liver")
    m = walker.band_masks([liver])
    assert {"Spleen", "Gallbladder", "Pancreas"} <= names(walker, m["semi_hard"][0])
    neg = walker.negatives([liver], 16, rng=0)
    assert liver not in neg[0]
    fine = walker.band_masks([walker.index("Liver S7", "fine")], level="fine")
    assert fine["excluded"].shape == (1, N_FINE)
    with pytest.raises(UsageError, match="not a coarse term"):
        walker.index("Liver S7")


def test_errors_are_typed(walker):
    with pytest.raises(UsageError, match="k must be a positive integer"):
        walker.negatives([0], 0)
    with pytest.raises(UsageError, match="out of range"):
        walker.negatives([N_FINE], 4)
    with pytest.raises(UsageError, match="has no positive"):
        walker.band_masks(np.array([[1, -1], [-1, -1]]))
    with pytest.raises(UsageError, match="unknown band 'hard'"):
        walker.negatives([0], 4, {"hard": 1.0})
    with pytest.raises(UsageError, match="unknown level"):
        walker.band_masks([0], level="organ")
    with pytest.raises(UsageError, match="cannot draw k=400"):
        walker.negatives([0], 400)
    padded = walker.negatives([0], 400, rng=0, pad=True)
    assert (padded[0, :380] >= 0).all() and (padded[0, -3:] == -1).all()
    with pytest.raises(UsageError, match="unknown relation 'near'"):
        Walker(walker.kg, relation_weights={"near": 1.0})
    with pytest.raises(UsageError, match="restart"):
        Walker(walker.kg, restart=1.0)


def test_tiny_with_and_without_derived_relations(tiny, tiny_related, tiny_derived):
    for ont in (tiny, tiny_related, tiny_derived):
        walker = Walker(ont)  # an Ontology is accepted as well as a graph
        n = len(walker.curies())
        m = walker.band_masks(np.arange(n))
        assert (m["excluded"].diagonal()).all()
        neg = walker.negatives(np.arange(n), 3, rng=0)
        assert not (neg == np.arange(n)[:, None]).any()
    walker = Walker(KnowledgeGraph(tiny_related))
    s1, around = walker.index("Liver S1"), walker.index("Around the liver")
    m = walker.band_masks([s1])
    assert m["excluded"][0, around] and m["semi_hard"][0, walker.index("Liver S2")]
    derived = Walker(tiny_derived)
    brain = derived.index("Brain")
    w = derived.candidate_weights([brain])[0]
    assert (
        w[derived.index("Left eye")] > 0 and w[derived.index("Liver S2")] > 0
    )  # touches, level_of
    flat = Walker(tiny_derived, relation_weights={"at_level_of": 0.0, "level_of": 0.0})
    assert flat.candidate_weights([brain])[0][flat.index("Liver S2")] < w[derived.index("Liver S2")]


def test_transition_matrix_is_stochastic(walker):
    t = walker.transition_matrix()
    sums = t.sum(axis=1)
    assert np.allclose(sums[sums > 0], 1.0) and (t >= 0).all()
