"""Validation checks of the atlas geometry and the generated descriptions.

They register themselves in :data:`anatloc.ontology.validate.CHECKS` on import.
"""

from __future__ import annotations

from collections import defaultdict

from .model import Ontology, norm
from .validate import check


@check(
    "missing-geometry",
    "WARN",
    "A fine location has no atlas geometry, so the phantom cannot draw it and the atlas "
    "checks cannot place it.",
    "anatloc ontology set-geometry TERM '{...}' (see docs/atlas.md).",
    group="atlas",
)
def _missing_geometry(ont: Ontology):
    for t in ont.terms("fine"):
        if not t.geometry:
            yield t.curie, f"{t.label!r} has no atlas geometry"


@check(
    "missing-description",
    "WARN",
    "A term has no generated description; the retriever falls back to its bare label.",
    "anatloc ontology describe --write",
    group="descriptions",
)
def _missing_description(ont: Ontology):
    for t in ont:
        if t.level != "region" and not t.description:
            yield t.curie, f"{t.label!r} has no description"


@check(
    "duplicate-description",
    "ERROR",
    "Two terms of one level share a canonical description, so text retrieval cannot tell "
    "them apart.",
    "Add a distinguishing synonym, definition or relation, then anatloc ontology describe --write.",
    group="descriptions",
)
def _duplicate_description(ont: Ontology):
    seen: dict[tuple[str, str], str] = {}
    for t in ont:
        if not t.description:
            continue
        key = (t.level, norm(t.description))
        if key in seen:
            yield t.curie, f"{t.label!r} has the same description as {seen[key]}"
        else:
            seen[key] = t.curie


@check(
    "twin-descriptions",
    "ERROR",
    "A left/right pair has descriptions that differ in nothing but case, so the side is lost.",
    "Regenerate the descriptions (anatloc ontology describe --write); check the lateralities.",
    group="descriptions",
)
def _twin_descriptions(ont: Ontology):
    by_pair = defaultdict(list)
    for t in ont:
        for c in t.relations.get("contralateral_to", ()):
            if c in ont and t.description and ont[c].description:
                by_pair[tuple(sorted((t.curie, c)))] = [t.description, ont[c].description]
    for (a, _b), (da, db) in sorted(by_pair.items()):
        if norm(da) == norm(db):
            yield a, f"{ont[a].label!r} and its twin share the description {da!r}"
