"""Validation checks of the atlas geometry and the generated descriptions.

They form their own check set, :data:`CHECKS`, which callers pass to
:func:`anatloc.ontology.validate.run_checks` (``extra=[CHECKS]``) next to the structure and
knowledge checks; ``anatloc ontology validate`` always does.  Kept apart because the atlas
checks rasterize the body (seconds) and import the atlas engine.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .model import Ontology, norm
from .validate import Check, check

# Fix of each atlas check (the problem is the check function's docstring in atlas/checks.py).
_ATLAS_FIX = {
    "atlas-nonempty": "Give the location a shape that is not painted over by higher-priority ones (docs/atlas.md).",
    "atlas-region-extent": "Move the shape into its region's part of the body, or fix the region rule in the frame.",
    "atlas-mirror": "Make the right spec the mirror image of the left one (x -> -x).",
    "atlas-vertebra-order": "Fix the z positions of the vertebrae so they run head to foot.",
    "atlas-rib-order": "Fix the z positions of the ribs so they run head to foot on each side.",
    "atlas-organ-rule": "Move the organ to where the rule says it belongs, or fix the rule in the frame.",
    "atlas-outside-body": "Keep 'Outside the body' a layer outside the skin surface.",
    "atlas-body-closure": "Close the gaps between body parts so air does not reach into the body.",
    "atlas-neighbour": "Make the Near/Around location touch the structure it surrounds.",
    "atlas-spec": "Fix the JSON of the geometry (see docs/atlas.md for every shape and field).",
}
#: the highest level an atlas check reports at, where it is not ERROR
_ATLAS_LEVEL = {"atlas-neighbour": "WARN"}
_RESULTS: dict[str, list[tuple]] = {}
#: the atlas and description checks (see the module docstring)
CHECKS: dict[str, Check] = {}


def _atlas_rows(ont: Ontology) -> list[tuple]:
    """All atlas check rows of ``ont`` (one rasterization, cached by content hash)."""
    from . import atlas
    from .geometry import atlas_for, check_data_for, has_atlas, meta_for, spec_errors

    key = ont.content_hash()
    if key in _RESULTS:
        return _RESULTS[key]
    if not has_atlas(ont):
        rows: list[tuple] = []
    else:
        errors = spec_errors(ont)
        if errors:
            rows = [("", "atlas-spec", "ERROR", e) for e in errors]
        else:
            rows = atlas.run_checks(atlas_for(ont), meta_for(ont), 4.0, check_data_for(ont, 4.0))
    _RESULTS.clear()
    _RESULTS[key] = rows
    return rows


def _register_atlas_checks() -> None:
    from . import atlas

    names = [*atlas.CHECKS, "atlas-spec"]
    for name in names:
        fn = atlas.CHECKS.get(name)
        doc = (
            " ".join((fn.__doc__ or "").split()) if fn else "The stored geometry does not compile."
        )
        doc = re.sub(r"``([^`]+)``", r"'\1'", doc)  # reST markup reads badly in a table

        def run(ont: Ontology, _name=name):
            for key, check_name, severity, message in _atlas_rows(ont):
                if check_name == _name:
                    yield key, message, severity

        check(
            name,
            _ATLAS_LEVEL.get(name, "ERROR"),
            doc,
            _ATLAS_FIX.get(name, "See docs/atlas.md."),
            group="atlas",
            into=CHECKS,
        )(run)


_register_atlas_checks()


@check(
    "missing-geometry",
    "WARN",
    "A fine location has no atlas geometry, so the phantom cannot draw it and the atlas "
    "checks cannot place it.",
    "anatloc ontology set-geometry TERM '{...}' (see docs/atlas.md).",
    group="atlas",
    into=CHECKS,
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
    into=CHECKS,
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
    into=CHECKS,
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
    into=CHECKS,
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


def check_geometry(ont: Ontology) -> None:
    """Raise InvariantError when a stored geometry does not parse as a valid atlas spec."""
    from .errors import InvariantError
    from .geometry import spec_errors

    errors = spec_errors(ont)
    if errors:
        raise InvariantError("valid-geometry", f"invalid atlas geometry: {errors[0]}")
