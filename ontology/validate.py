"""Named validation checks.

Each check is a function of the ontology that yields :class:`Issue` rows (term, check,
severity, message).  ``anatloc ontology validate --fail-on error|warn`` runs them all and
fails when a row at or above the chosen severity appears.  Every check is documented here
with the problem it finds and the fix (``anatloc ontology validate --list`` prints them).

:data:`CHECKS` holds the checks of the ontology's own structure and knowledge.  Check sets that
need more machinery (the atlas and description checks of :mod:`.checks_atlas`) are separate
dicts of :class:`Check` that callers pass as ``extra`` to :func:`run_checks` and
:func:`iter_docs`; this module imports none of them, so the dependency runs one way
(``checks_atlas`` -> ``validate``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from . import vocab
from .model import Ontology, label_side, norm

SEVERITIES = ("INFO", "WARN", "ERROR")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Issue:
    term: str  # CURIE, or "" for the whole ontology
    check: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "term": self.term,
            "check": self.check,
            "level": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    problem: str
    fix: str
    #: yields (term, message) rows at the check's severity, or (term, message, severity)
    func: Callable[[Ontology], Iterable[tuple]]
    group: str = "structure"  # structure | knowledge | atlas | descriptions


CHECKS: dict[str, Check] = {}


def check(
    name: str,
    severity: str,
    problem: str,
    fix: str,
    group: str = "structure",
    *,
    into: dict[str, Check] | None = None,
):
    """Decorator: register ``func`` as a check in ``into`` (by default :data:`CHECKS`)."""

    def deco(func):
        (CHECKS if into is None else into)[name] = Check(name, severity, problem, fix, func, group)
        return func

    return deco


def _label(ont: Ontology, curie: str) -> str:
    return ont[curie].label if curie in ont else curie


@check(
    "missing-label",
    "ERROR",
    "A term has no rdfs:label.",
    "Give it one: anatloc ontology rename CURIE 'Label'.",
)
def _missing_label(ont):
    for t in ont:
        if not t.label.strip():
            yield t.curie, f"{t.curie} has no label"


@check(
    "missing-level",
    "ERROR",
    "A term is not a subclass of Region, CoarseLocation or FineLocation.",
    "Add the level class in the file (rdfs:subClassOf anatloc:FineLocation ...).",
)
def _missing_level(ont):
    for t in ont:
        if t.level not in vocab.LEVELS:
            yield t.curie, f"{t.curie} ({t.label}) has no level class"


@check(
    "duplicate-label",
    "ERROR",
    "Two terms of the same level share a label, so a label no longer names one location.",
    "Rename one of them.",
)
def _duplicate_label(ont):
    seen: dict[tuple[str, str], str] = {}
    for t in ont:
        key = (t.level, norm(t.label))
        if key in seen:
            yield t.curie, f"{t.level} label {t.label!r} is used by {seen[key]} and {t.curie}"
        else:
            seen[key] = t.curie


@check(
    "duplicate-synonym",
    "ERROR",
    "A synonym belongs to several terms, so it does not name one location.",
    "Keep it on the term it names exactly; edit the file or re-create the other term.",
)
def _duplicate_synonym(ont):
    owners: dict[str, list[str]] = defaultdict(list)
    for t in ont:
        for s in {norm(x) for x in t.synonyms}:
            owners[s].append(t.curie)
    for s, cs in sorted(owners.items()):
        if len(cs) > 1:
            yield cs[1], f"synonym {s!r} belongs to {', '.join(cs)}"


@check(
    "synonym-is-label",
    "WARN",
    "A synonym equals the label of another term; lookups by that name find the label's term.",
    "Remove the synonym or make it more specific.",
)
def _synonym_is_label(ont):
    labels = defaultdict(list)
    for t in ont:
        labels[norm(t.label)].append(t.curie)
    for t in ont:
        for s in t.synonyms:
            others = [c for c in labels.get(norm(s), []) if c != t.curie]
            if others:
                yield t.curie, f"synonym {s!r} of {t.label!r} is the label of {', '.join(others)}"


@check(
    "orphan",
    "ERROR",
    "A coarse or fine term has no parent, or its parent is not a term of the ontology.",
    "Give it a parent: anatloc ontology move TERM --parent PARENT.",
)
def _orphan(ont):
    for t in ont:
        if t.level in ("coarse", "fine") and (t.parent is None or t.parent not in ont):
            what = "no parent" if t.parent is None else f"parent {t.parent}, which is not a term"
            yield t.curie, f"{t.level} term {t.label!r} has {what}"
        if t.level == "region" and t.parent is not None:
            yield (
                t.curie,
                f"region {t.label!r} has a parent ({t.parent}); regions are the top level",
            )


@check(
    "wrong-parent-level",
    "ERROR",
    "A fine term's parent is not coarse, or a coarse term's parent is not a region.",
    "Move the term under a parent of the right level.",
)
def _wrong_parent_level(ont):
    for t in ont:
        want = vocab.PARENT_LEVEL.get(t.level)
        if want and t.parent in ont and ont[t.parent].level != want:
            p = ont[t.parent]
            yield (
                t.curie,
                f"{t.level} term {t.label!r} is part of the {p.level} term {p.label!r}; expected a {want}",
            )


@check(
    "cycle", "ERROR", "The part_of hierarchy loops back on itself.", "Move one term of the loop."
)
def _cycle(ont):
    for t in ont:
        seen = {t.curie}
        c = t.parent
        while c is not None and c in ont:
            if c in seen:
                yield t.curie, f"{t.label!r} is its own ancestor (via {c})"
                break
            seen.add(c)
            c = ont[c].parent


@check(
    "empty-group",
    "WARN",
    "A region or coarse location has no children, so it cannot be predicted.",
    "Add fine locations under it or remove it.",
)
def _empty_group(ont):
    for t in ont:
        if t.level in ("region", "coarse") and not ont.children(t):
            yield t.curie, f"{t.level} term {t.label!r} has no children"


@check(
    "laterality-label",
    "ERROR",
    "A term whose label names a side (Left or Right, Rib L7, Mediastinum 4R) has a different "
    "laterality.",
    "Fix the laterality in the file, or the label.",
)
def _laterality_label(ont):
    for t in ont:
        side, _twin = label_side(t.label)
        if side and t.laterality != side:
            yield t.curie, f"{t.label!r} says {side} but its laterality is {t.laterality!r}"
        if t.laterality not in vocab.LATERALITIES:
            yield t.curie, f"{t.label!r} has unknown laterality {t.laterality!r}"


@check(
    "unknown-tissue",
    "ERROR",
    "A term's tissue is not one of the controlled values.",
    "Use one of the values listed in docs/ontology.md.",
    group="knowledge",
)
def _unknown_tissue(ont):
    for t in ont:
        if t.tissue and t.tissue not in vocab.TISSUES:
            yield t.curie, f"{t.label!r} has unknown tissue {t.tissue!r}"


@check(
    "missing-tissue",
    "WARN",
    "A fine term has no tissue kind; the phantom and the descriptions need it.",
    "Set anatloc:tissue in the file (one of the controlled values).",
    group="knowledge",
)
def _missing_tissue(ont):
    for t in ont.terms("fine"):
        if not t.tissue:
            yield t.curie, f"{t.label!r} has no tissue"


@check(
    "missing-definition",
    "WARN",
    "A term has no curated definition (IAO:0000115).",
    "anatloc ontology set-definition TERM 'One sentence.'",
    group="knowledge",
)
def _missing_definition(ont):
    for t in ont:
        if not t.definition.strip():
            yield t.curie, f"{t.label!r} has no definition"


@check(
    "preferred-synonym",
    "WARN",
    "The preferred synonym is not one of the term's exact synonyms.",
    "Add it as an exact synonym or change the preferred one.",
    group="knowledge",
)
def _preferred_synonym(ont):
    for t in ont:
        if t.preferred_synonym and norm(t.preferred_synonym) not in {
            norm(s) for s in t.exact_synonyms
        }:
            yield (
                t.curie,
                f"preferred synonym {t.preferred_synonym!r} of {t.label!r} is not an exact synonym",
            )


@check(
    "relation-target",
    "ERROR",
    "A relation points to a term that does not exist, or to the term itself.",
    "Remove the relation or restore the target term.",
    group="knowledge",
)
def _relation_target(ont):
    for t in ont:
        for name, targets in t.relations.items():
            for c in targets:
                if c not in ont:
                    yield t.curie, f"{t.label!r} {name} {c}, which is not a term"
                elif c == t.curie:
                    yield t.curie, f"{t.label!r} {name} itself"


@check(
    "relation-symmetry",
    "WARN",
    "A symmetric relation (adjacent_to, contralateral_to, touches) is stated one way only.",
    "State it on both terms (anatloc ontology derive --write regenerates derived ones).",
    group="knowledge",
)
def _relation_symmetry(ont):
    for t in ont:
        for name, targets in t.relations.items():
            if not vocab.RELATIONS[name].symmetric:
                continue
            for c in targets:
                if c in ont and t.curie not in ont[c].relations.get(name, ()):
                    yield t.curie, f"{t.label!r} {name} {ont[c].label!r} but not the reverse"


@check(
    "contralateral-sides",
    "ERROR",
    "A contralateral pair is not one left and one right term.",
    "Fix the pair or the lateralities.",
    group="knowledge",
)
def _contralateral_sides(ont):
    for t in ont:
        for c in t.relations.get("contralateral_to", ()):
            if c in ont and {t.laterality, ont[c].laterality} != {"left", "right"}:
                yield (
                    t.curie,
                    f"{t.label!r} ({t.laterality}) contralateral_to {ont[c].label!r} ({ont[c].laterality})",
                )


@check(
    "stale-hash",
    "WARN",
    "The content hash stored in the file does not match its terms: it was edited outside anatloc.",
    "Save it once through anatloc (any edit, or anatloc ontology export --format ttl).",
)
def _stale_hash(ont):
    if ont.stored_hash and ont.stored_hash != ont.content_hash():
        yield (
            "",
            f"stored hash {ont.stored_hash[:19]}… differs from the content hash {ont.content_hash()[:19]}…",
        )


def run_checks(
    ont: Ontology,
    *,
    groups: Iterable[str] | None = None,
    names: Iterable[str] | None = None,
    extra: Iterable[Mapping[str, Check]] = (),
) -> list[Issue]:
    """Run the selected checks (all by default) of :data:`CHECKS` and of the ``extra`` check
    sets, and return their rows, most severe first."""
    wanted_groups = set(groups) if groups is not None else None
    wanted = set(names) if names is not None else None
    out: list[Issue] = []
    for c in iter_docs(extra):
        if wanted_groups is not None and c.group not in wanted_groups:
            continue
        if wanted is not None and c.name not in wanted:
            continue
        for row in c.func(ont):
            term, msg = row[0], row[1]
            out.append(Issue(term, c.name, row[2] if len(row) > 2 else c.severity, msg))
    out.sort(key=lambda i: (-SEVERITY_RANK[i.severity], i.check, i.term))
    return out


def failed(issues: Iterable[Issue], fail_on: str) -> bool:
    threshold = SEVERITY_RANK[fail_on.upper()]
    return any(SEVERITY_RANK[i.severity] >= threshold for i in issues)


def summary(issues: Iterable[Issue]) -> dict[str, int]:
    counts = Counter(i.severity for i in issues)
    return {s: counts.get(s, 0) for s in reversed(SEVERITIES)}


def iter_docs(extra: Iterable[Mapping[str, Check]] = ()) -> Iterator[Check]:
    """Every check of :data:`CHECKS`, then those of the ``extra`` sets (a later set's check
    replaces an earlier one of the same name, in its place)."""
    merged = dict(CHECKS)
    for more in extra:
        merged.update(more)
    yield from merged.values()
