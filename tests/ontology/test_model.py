"""The Ontology interface: lookup rules, hierarchy, edits and their invariants."""

from __future__ import annotations

import pytest

from anatloc.ontology import AmbiguousTermError, InvariantError, UnknownTermError, UsageError
from anatloc.ontology.model import label_side
from anatloc.ontology.tsv import read_location_list


def test_counts_of_shipped(shipped):
    s = shipped.stats()
    assert (s["regions"], s["coarse"], s["fine"]) == (8, 124, 387)
    assert s["hash"].startswith("sha256:")


def test_curies_are_by_level_blocks(shipped):
    assert [t.level for t in shipped.terms()][:8] == ["region"] * 8
    assert shipped.terms("coarse")[0].curie == "ANATLOC:0000009"
    assert shipped.terms("fine")[0].curie == "ANATLOC:0000133"


def test_lookup_by_curie_label_synonym_and_iri(shipped):
    t = shipped.get("Liver S7")
    assert shipped.get(t.curie) is t
    assert shipped.get(t.iri) is t
    assert shipped.get("ANATLOC_" + t.curie.split(":")[1].lstrip("0")) is t
    assert shipped.get("  liver   s7 ") is t
    assert shipped.get("segment VII of the liver") is t


def test_same_name_at_two_levels_means_the_fine_term(shipped):
    fine = shipped.get("Brain")
    assert fine.level == "fine"
    coarse = shipped.get("Brain", level="coarse")
    assert coarse.level == "coarse" and fine.parent == coarse.curie
    assert shipped.get("Rib L7", levels=("region", "coarse")).level == "coarse"


def test_unknown_term_suggests_close_labels(shipped):
    with pytest.raises(UnknownTermError) as e:
        shipped.get("Livr S7")
    assert "Liver S7" in str(e.value)


def test_ambiguous_lookup_lists_candidates(tiny):
    tiny.add("Brain", None, level="region")  # a region labelled like a coarse term
    with pytest.raises(AmbiguousTermError) as e:
        tiny.get("Brain", levels=("region", "coarse"))
    assert "ANATLOC:" in str(e.value) and "region" in str(e.value)


def test_hierarchy_navigation(shipped):
    s7 = shipped.get("Liver S7")
    assert shipped.parent(s7).label == "Liver"
    assert [a.label for a in shipped.ancestors(s7)] == ["Liver", "Abdomen"]
    assert shipped.region_of(s7).label == "Abdomen"
    assert shipped.coarse_of(s7).label == "Liver"
    assert len(shipped.children("Liver")) == 10
    assert len(shipped.descendants(shipped.get("Abdomen"))) == 16 + 54


def test_add_assigns_next_curie_and_infers_level_and_side(tiny):
    t = tiny.add("Left liver part", "Liver")
    assert t.level == "fine" and t.curie == "ANATLOC:0000013" and t.laterality == "left"
    c = tiny.add("Spleen", "Abdomen")
    assert c.level == "coarse"


@pytest.mark.parametrize(
    "label, side, twin",
    [
        ("Left eye", "left", "Right eye"),
        ("Renal fascia of right kidney", "right", "Renal fascia of left kidney"),
        ("LEFT ARM", "left", "RIGHT ARM"),
        ("Rib L7", "left", "Rib R7"),
        ("Rib R12", "right", "Rib L12"),
        ("Mediastinum 4L", "left", "Mediastinum 4R"),
        ("Mediastinum 10R", "right", "Mediastinum 10L"),
        ("Mediastinum 5", None, None),
        ("Left and right lung", None, None),
        ("Leftover", None, None),
        ("Liver S7", None, None),
    ],
)
def test_label_side_is_the_one_label_rule(label, side, twin):
    assert label_side(label) == (side, twin)


def test_add_takes_the_side_of_station_and_rib_labels(tiny):
    """``add`` and the location-list import share one rule (``add`` missed L/R codes)."""
    station = tiny.add("Mediastinum 4L", "Liver")
    assert station.laterality == "left"
    assert tiny.add("Rib R3", "Liver").laterality == "right"
    with pytest.raises(InvariantError, match="laterality-label"):
        tiny.add("Mediastinum 4R", "Liver", laterality="left")
    assert tiny.rename(station, "Mediastinum 2R").laterality == "right"


def test_removed_curie_is_never_reused(tiny):
    t = tiny.add("Liver S3", "Liver")
    tiny.remove(t)
    again = tiny.add("Liver S4", "Liver")
    assert again.curie != t.curie and tiny.meta.last_id == 14


def test_rename_keeps_curie(tiny):
    t = tiny.get("Liver S1")
    r = tiny.rename(t, "Caudate lobe")
    assert r.curie == t.curie and tiny.get("caudate lobe") is r


@pytest.mark.parametrize(
    "edit, invariant",
    [
        (lambda o: o.add("Liver S2", "Liver"), "unique-label"),
        (lambda o: o.add("X", "Liver S1"), "one-parent"),
        (lambda o: o.add("X", "Liver", level="coarse"), "one-parent"),
        (lambda o: o.move("Liver S1", "Head"), "one-parent"),
        (lambda o: o.remove("Liver"), "children"),
        (lambda o: o.rename("Liver S1", "  "), "missing-label"),
        (
            lambda o: (o.add_synonym("Liver S1", "caudate"), o.add_synonym("Liver S2", "Caudate")),
            "unique-synonym",
        ),
    ],
)
def test_edits_that_break_an_invariant_are_refused_and_change_nothing(tiny, edit, invariant):
    before = tiny.content_hash()
    with pytest.raises(InvariantError) as e:
        edit(tiny)
    assert e.value.invariant == invariant
    if invariant != "unique-synonym":  # the first synonym of that case is a valid edit
        assert tiny.content_hash() == before


def test_remove_subtree_drops_relations_to_removed_terms(tiny):
    s1 = tiny.get("Liver S1")
    tiny.update("Liver S2", relations={"adjacent_to": (s1.curie,)})
    gone = tiny.remove("Liver", subtree=True)
    assert {t.label for t in gone} == {"Liver", "Liver S1", "Liver S2", "Around the liver"}
    assert all(not t.relations for t in tiny)


def test_content_hash_changes_with_any_term_change(tiny):
    h0 = tiny.content_hash()
    tiny.set_definition("Liver S1", "The caudate lobe.")
    h1 = tiny.content_hash()
    tiny.add_synonym("Liver S1", "caudate lobe", "related")
    h2 = tiny.content_hash()
    assert len({h0, h1, h2}) == 3


def test_update_rejects_unknown_fields(tiny):
    with pytest.raises(UsageError):
        tiny.update("Liver S1", label="x")
    with pytest.raises(UsageError):
        tiny.update("Liver S1", tissue="cheese")


def test_location_list_errors_name_the_line():
    from anatloc.ontology import DataError

    with pytest.raises(DataError, match="line 3: location 'B' has no coarse parent"):
        read_location_list("region\tcoarse\tlocation\nHead\tA\tA\nHead\t\tB\n")
    with pytest.raises(DataError, match="line 3: coarse location 'A' is under 'Head' and 'Neck'"):
        read_location_list("region\tcoarse\tlocation\nHead\tA\tA\nNeck\tA\tB\n")
