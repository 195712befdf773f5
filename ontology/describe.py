"""Augmented descriptions of locations, generated from the ontology's knowledge.

A deterministic generator: the same ontology gives the same texts, byte for byte.  For
each term it writes a canonical description and at least four paraphrases, composed from
the label, the synonyms, the level, region, side, tissue, curated relations and the
atlas-derived positions.  The texts are stored under their own annotation properties
(``anatloc:canonicalDescription``, ``anatloc:paraphrase``) with the generator's name and
version (``anatloc:descriptionGenerator``), never in the curated definition.

Why: a sentence encoder maps bare labels such as "Left upper lobe anterior segment" and
"Right upper lobe anterior segment" to almost the same vector.  Descriptions that repeat
the side and name side-specific neighbours and positions pull them apart
(``bench/descriptions.py`` measures it).
"""

from __future__ import annotations

import dataclasses
import re

from .model import Ontology, Term

GENERATOR = "anatloc-describe/4"

TISSUE_PHRASE = {
    "bone": "bone",
    "joint": "joint",
    "lymph_node_station": "lymph node station",
    "solid_organ": "solid organ tissue",
    "gland": "glandular tissue",
    "hollow_organ": "hollow organ",
    "vessel": "large vessel",
    "muscle": "skeletal muscle",
    "subcutaneous_fat": "subcutaneous fat",
    "space": "fat space",
    "serous_membrane": "serous membrane",
    "skin_surface": "body surface",
    "airway": "airway",
    "lung": "lung tissue",
    "brain": "brain tissue",
    "sensory_organ": "sense organ",
    "mixed": "soft tissue and bone",
    "outside_body": "a finding outside the patient",
}
SIDE_PHRASE = {"left": "left side", "right": "right side", "midline": "midline", "unsided": ""}
#: the side of a sided term in its canonical description.  A bare "left" or "right" is one
#: token among many shared ones, so a sentence encoder puts left/right twins almost on top
#: of each other; the Latin side word and the organ that marks each side of the trunk (the
#: liver on the right; the spleen, like the heart's apex, on the left) give each side words
#: of its own (``bench/descriptions.py`` measures the effect)
SIDE_CANONICAL = {
    "left": "on the patient's left (sinistral), the spleen side",
    "right": "on the patient's right (dextral), the liver side",
    "midline": "in the midline",
}
#: the same two cues, one per paraphrase, so that paraphrases still find their canonical text
SIDE_LATIN = {"left": " on the sinistral (left) side", "right": " on the dextral (right) side"}
SIDE_ORGAN = {"left": " on the left, the spleen side", "right": " on the right, the liver side"}
POSITION_WORDS = {
    "superior_to": "above",
    "inferior_to": "below",
    "anterior_to": "in front of",
    "posterior_to": "behind",
    "medial_to": "medial to",
    "lateral_to": "lateral to",
}
MAX_WORDS = 60


def _words(text: str) -> int:
    return len(text.split())


def _clip(text: str, limit: int = MAX_WORDS) -> str:
    words = text.split()
    if len(words) <= limit:
        return text
    out = " ".join(words[:limit]).rstrip(",;:")
    return out if out.endswith(".") else out + "."


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _surround_partners(ont: Ontology, t: Term) -> set[str]:
    """Terms that surround ``t`` or that ``t`` surrounds (poor landmarks for ``t``)."""
    out = set(t.relations.get("surrounds", ()))
    out |= {o.curie for o in ont if t.curie in o.relations.get("surrounds", ())}
    if t.parent:  # "Around the liver" surrounds the coarse Liver: all its parts
        out |= {o.curie for o in ont if t.parent in o.relations.get("surrounds", ())}
    return out


def _positions(ont: Ontology, t: Term, limit: int = 3) -> list[str]:
    """Up to ``limit`` phrases like "above Liver S6": siblings, then landmarks, then others;
    never the Near/Around partners of the term."""
    skip = _surround_partners(ont, t)
    cands = []
    for rel, word in POSITION_WORDS.items():
        for c in t.relations.get(rel, ()):
            if c not in ont or c in skip:
                continue
            other = ont[c]
            rank = 0 if other.parent == t.parent else (1 if other.landmark else 2)
            cands.append((rank, rel, other.label, f"{word} {other.label}"))
    cands.sort()
    seen_targets: set[str] = set()
    out = []
    for _rank, _rel, label, phrase in cands:
        if label in seen_targets:
            continue
        seen_targets.add(label)
        out.append(phrase)
        if len(out) == limit:
            break
    return out


def _neighbours(ont: Ontology, t: Term, limit: int = 3) -> list[str]:
    names = []
    for rel in ("surrounds", "adjacent_to", "touches"):
        for c in t.relations.get(rel, ()):
            if c in ont and ont[c].label not in names and ont[c].label != t.label:
                names.append(ont[c].label)
    return names[:limit]


def _lower(label: str) -> str:
    """'Left lung' -> 'left lung', keeping codes such as 'T7' or 'S4' as they are."""
    return " ".join(
        w if any(ch.isdigit() for ch in w) or w.isupper() else w.lower() for w in label.split()
    )


def _level_text(ont: Ontology, t: Term) -> tuple[str, str]:
    """(where phrase, side phrase) e.g. ("the liver (abdomen)", "right side")."""
    region = ont.region_of(t) if t.level else None
    coarse = ont.coarse_of(t)
    side = SIDE_PHRASE.get(t.laterality, "")
    rname = _lower(region.label) if region is not None else "body"
    if t.level == "fine" and coarse is not None and coarse.label != t.label:
        where = f"the {_lower(coarse.label)} ({rname})"
    else:
        where = f"the {rname}"
    return where, side


def describe_term(ont: Ontology, t: Term) -> tuple[str, list[str]]:
    """(canonical description, paraphrases) of one term."""
    label = t.label
    tissue = TISSUE_PHRASE.get(t.tissue, "anatomical location")
    where, side = _level_text(ont, t)
    side_in = (
        f" on the {side}"
        if side and side != "midline"
        else (" in the midline" if side == "midline" else "")
    )
    pos = _positions(ont, t)
    near = _neighbours(ont, t)
    level_of = [
        ont[c].label.removeprefix("Vertebra ")
        for c in t.relations.get("at_level_of", ())
        if c in ont
    ][:1]

    if t.level == "region":
        kids = [c.label for c in ont.children(t)]
        canonical = f"{label}: one of the eight body regions, holding {_join(kids[:8])}" + (
            f" and {len(kids) - 8} more coarse locations." if len(kids) > 8 else "."
        )
        paraphrases = [
            f"The {label.lower()} region of the body.",
            f"Body region {label}, with {len(kids)} coarse locations such as {_join(kids[:4])}.",
            f"A lesion somewhere in the {label.lower()}.",
            f"{label} region: {t.definition}"
            if t.definition
            else f"Anywhere in the {label.lower()}.",
        ]
        return _finish(canonical, paraphrases)

    if t.level == "coarse":
        kids = [c.label for c in ont.children(t)]
        grouping = (
            f"grouping {_join(kids[:5])}" + (f" and {len(kids) - 5} more" if len(kids) > 5 else "")
            if len(kids) > 1
            else f"holding the single fine location {kids[0]}"
            if kids
            else "with no fine locations yet"
        )
        if t.laterality in ("left", "right"):
            canonical = f"{label}: coarse location of {tissue} of {where}, "
            canonical += f"{SIDE_CANONICAL[t.laterality]}, {grouping}."
        else:
            canonical = f"{label}: coarse location of {tissue}{side_in} of {where}, {grouping}."
        if pos:
            canonical = canonical[:-1] + f"; {_join(pos[:2])}."
        paraphrases = [
            f"The {label} area{side_in} of {where}.",
            f"Coarse location {label} ({tissue}), {grouping}.",
            f"A lesion in the {label.lower()}, {where.removeprefix('the ')}{side_in}.",
            f"{label}: {t.definition}"
            if t.definition
            else f"{label}, a group of {len(kids)} fine locations.",
        ]
        if near:
            paraphrases.append(f"{label}, next to {_join(near)}.")
        return _finish(canonical, paraphrases)

    # fine: the label and its two best synonyms first, then side, tissue, neighbours and
    # level, with as few shared template words as possible (they dominate a sentence
    # encoder's embedding and make all locations look alike; see bench/descriptions.py)
    names: list[str] = []
    for n in ([t.preferred_synonym] if t.preferred_synonym else []) + list(t.exact_synonyms):
        if n and n not in names:
            names.append(n)
    head = f"{label} ({', '.join(names[:2])})" if names else label
    canonical = f"{head}: {tissue}"
    if t.laterality in SIDE_CANONICAL:
        canonical += f" {SIDE_CANONICAL[t.laterality]}"
    if pos:
        canonical += ", " + ", ".join(pos)
    elif near:
        canonical += f", next to {_join(near[:2])}"
    if level_of:
        canonical += f", {level_of[0]} level"
    canonical += "."
    syns = list(t.exact_synonyms) + list(t.related_synonyms)
    paraphrases = [
        f"{(syns[0] if syns else label)[0].upper()}{(syns[0] if syns else label)[1:]}: {tissue}{SIDE_LATIN.get(t.laterality, side_in)} of the {ont.region_of(t).label.lower()}.",
        f"A lesion in {label}, within {where}{SIDE_ORGAN.get(t.laterality, side_in)}.",
        f"{label}: {t.definition}" if t.definition else f"{label}, {tissue}.",
        f"{label} lies "
        + (_join(pos) if pos else f"in {where}")
        + (f", next to {_join(near)}" if near else "")
        + ".",
    ]
    if len(syns) > 1:
        paraphrases.append(f"{label}, also called {_join(syns[1:4])}.")
    if level_of:
        paraphrases.append(f"{label}{side_in}, at the level of vertebra {level_of[0]} ({tissue}).")
    return _finish(canonical, paraphrases)


def _finish(canonical: str, paraphrases: list[str]) -> tuple[str, list[str]]:
    canonical = _clip(re.sub(r"\s+", " ", canonical).strip())
    out: list[str] = []
    for p in paraphrases:
        p = _clip(re.sub(r"\s+", " ", p).strip())
        if p and p != canonical and p not in out:
            out.append(p)
    return canonical, out


def describe_all(ont: Ontology) -> int:
    """Regenerate every term's description in place; returns how many terms changed."""
    changed = 0
    new_terms = []
    for t in ont:
        canonical, paraphrases = describe_term(ont, t)
        new = dataclasses.replace(
            t,
            description=canonical,
            paraphrases=tuple(paraphrases),
            description_generator=GENERATOR,
        )
        changed += (
            new.description != t.description or tuple(sorted(new.paraphrases)) != t.paraphrases
        )
        new_terms.append(new)
    ont.replace_with(Ontology(new_terms, ont.meta, foreign=ont.foreign))
    _disambiguate(ont)
    return changed


def _disambiguate(ont: Ontology) -> None:
    """Make canonical descriptions unique across all terms (append the CURIE as a last resort)."""
    seen: dict[str, str] = {}
    fixes = {}
    for t in ont:
        key = t.description.casefold()
        if key in seen:
            fixes[t.curie] = t.description[:-1] + f" ({t.level} location {t.curie})."
        else:
            seen[key] = t.curie
    if fixes:
        terms = [dataclasses.replace(t, description=fixes.get(t.curie, t.description)) for t in ont]
        ont.replace_with(Ontology(terms, ont.meta, foreign=ont.foreign))


def description_texts(ont: Ontology, t: Term) -> tuple[str, list[str]]:
    """The stored texts of a term, or freshly generated ones when it has none."""
    if t.description:
        return t.description, list(t.paraphrases)
    return describe_term(ont, t)
