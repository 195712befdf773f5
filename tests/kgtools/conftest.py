"""Fixtures of the kgtools tests: one graph and one walker of the shipped ontology per session,
and a tiny ontology with relations (curated, and derived ones as the atlas will add)."""

from __future__ import annotations

import pytest

from anatloc.kgtools.graph import KnowledgeGraph
from anatloc.kgtools.walker import Walker
from anatloc.ontology import Ontology


@pytest.fixture(scope="session")
def kg(shipped: Ontology) -> KnowledgeGraph:
    return KnowledgeGraph(shipped)


@pytest.fixture(scope="session")
def walker(kg: KnowledgeGraph) -> Walker:
    return Walker(kg, level="fine")


def add_relations(ont: Ontology, derived: bool) -> Ontology:
    """Relations on the tiny ontology; symmetric ones stated in one direction only."""
    c = {t.label + "/" + t.level: t.curie for t in ont}
    ont.update(c["Liver S1/fine"], relations={"adjacent_to": (c["Liver S2/fine"],)})
    ont.update(c["Left eye/fine"], relations={"contralateral_to": (c["Right eye/fine"],)})
    ont.update(c["Around the liver/fine"], relations={"surrounds": (c["Liver/coarse"],)})
    if derived:
        ont.update(
            c["Brain/fine"],
            relations={
                "touches": (c["Left eye/fine"], c["Right eye/fine"]),
                "superior_to": (c["Left eye/fine"], c["Right eye/fine"]),
            },
        )
        ont.update(
            c["Liver S2/fine"],
            relations={
                "adjacent_to": (c["Liver S1/fine"],),
                "at_level_of": (c["Brain/fine"],),
                "inferior_to": (c["Brain/fine"],),
            },
        )
    return ont


@pytest.fixture
def tiny_related(tiny: Ontology) -> Ontology:
    return add_relations(tiny, derived=False)


@pytest.fixture
def tiny_derived(tiny: Ontology) -> Ontology:
    return add_relations(tiny, derived=True)
