"""Each named check fires on the problem it documents, and the shipped ontology passes."""

from __future__ import annotations

import dataclasses

import pytest

from anatloc.ontology import checks_atlas
from anatloc.ontology import validate as v
from anatloc.ontology.model import Ontology


def names(issues, severity=None):
    return {i.check for i in issues if severity is None or i.severity == severity}


def test_shipped_ontology_has_no_errors(shipped):
    issues = v.run_checks(
        shipped, groups=["structure", "knowledge", "descriptions"], extra=[checks_atlas.CHECKS]
    )
    assert not [i for i in issues if i.severity == "ERROR"], issues[:5]


def _with(ont: Ontology, which: str, /, **changes) -> Ontology:
    terms = [
        dataclasses.replace(t, **changes) if t.label == which and t.level == "fine" else t
        for t in ont
    ]
    return Ontology(terms, ont.meta)


@pytest.mark.parametrize(
    "label, changes, check",
    [
        ("Liver S1", {"label": ""}, "missing-label"),
        ("Liver S1", {"level": ""}, "missing-level"),
        ("Liver S1", {"label": "Liver S2"}, "duplicate-label"),
        ("Liver S1", {"parent": None}, "orphan"),
        ("Liver S1", {"parent": "ANATLOC:0000999"}, "orphan"),
        ("Liver S1", {"parent": "ANATLOC:0000002"}, "wrong-parent-level"),
        ("Left eye", {"laterality": "right"}, "laterality-label"),
        ("Liver S1", {"tissue": "cheese"}, "unknown-tissue"),
        ("Liver S1", {"relations": {"adjacent_to": ("ANATLOC:0000999",)}}, "relation-target"),
        ("Liver S1", {"relations": {"adjacent_to": ("ANATLOC:0000011",)}}, "relation-symmetry"),
        ("Liver S1", {"preferred_synonym": "caudate"}, "preferred-synonym"),
        (
            "Left eye",
            {"relations": {"contralateral_to": ("ANATLOC:0000010",)}},
            "contralateral-sides",
        ),
    ],
)
def test_check_fires(tiny, label, changes, check):
    assert check not in names(v.run_checks(tiny))
    broken = _with(tiny, label, **changes)
    assert check in names(v.run_checks(broken))


def test_cycle_is_found(tiny):
    terms = []
    for t in tiny:
        if t.label == "Head":
            t = dataclasses.replace(t, parent="ANATLOC:0000003")  # Head part_of coarse Brain
        terms.append(t)
    assert "cycle" in names(v.run_checks(Ontology(terms, tiny.meta)))


def test_missing_definition_is_a_warning(tiny):
    issues = v.run_checks(tiny)
    assert "missing-definition" in names(issues, "WARN")
    assert not v.failed(issues, "error") and v.failed(issues, "warn")


def test_duplicate_synonym_across_terms(tiny):
    a = _with(tiny, "Liver S1", exact_synonyms=("caudate",))
    b = _with(a, "Liver S2", exact_synonyms=("Caudate",))
    assert "duplicate-synonym" in names(v.run_checks(b), "ERROR")


def test_every_check_is_documented():
    docs = list(v.iter_docs([checks_atlas.CHECKS]))
    assert {"twin-descriptions", "atlas-mirror", "missing-geometry"} <= {c.name for c in docs}
    for c in docs:
        assert c.problem and c.fix and c.severity in v.SEVERITIES


def test_extra_check_sets_are_the_callers_choice(tiny):
    """validate runs its own checks; a set such as the atlas checks runs when passed."""
    assert not {c.name for c in v.iter_docs()} & set(checks_atlas.CHECKS)
    assert "missing-geometry" not in names(v.run_checks(tiny))
    assert "missing-geometry" in names(v.run_checks(tiny, extra=[checks_atlas.CHECKS]))
