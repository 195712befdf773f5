"""Report phrases: where a report sentence puts a lesion, in the words a report uses.

Every term of the shipped ontology carries a ``report phrase`` annotation (``Term.report_phrase``,
``anatloc:reportPhrase``): the location with its preposition and article, lower-case except
for proper abbreviations ("S7", "4R", "T8")::

    Left humerus                  in the left humerus
    Near vertebra T8              adjacent to the T8 vertebra
    Spinous process of vertebra T8  in the spinous process of the T8 vertebra
    Base of tongue                at the base of the tongue
    Liver S7                      in liver segment S7
    Mediastinum 4R                in mediastinal station 4R
    Rib L7                        in the left 7th rib

:func:`generate` writes the first draft from a label; ``tools/report_phrases.py`` applies it
to the shipped ontology, where a person reviewed the result (and may edit any phrase in the
Turtle or TSV file, as any other annotation).  A term without a phrase (one a user added)
gets the generated one at report time (:func:`phrase_of`).  The phrases are not covered by
the content hash: editing one never invalidates a trained model.
"""

from __future__ import annotations

import re

#: name and version of the rules below (recorded by tools/report_phrases.py)
GENERATOR = "anatloc.ontology.phrases 1"

#: the prepositions a phrase may start with (checked by the tests for every term)
PREPOSITIONS = ("in", "at", "on", "adjacent to", "around", "between", "deep to", "outside")

#: a token kept as written: an abbreviation with a digit ("S7", "4R", "T8", "C1", "L6")
_ABBREV_RE = re.compile(r"^(?=.*\d)[A-Z0-9]{1,4}$")
_ORDINAL = {1: "st", 2: "nd", 3: "rd"}
#: labels that are adjectives alone and need a noun ("Left supraclavicular")
_ADJECTIVE_ENDINGS = ("supraclavicular", "retropharyngeal", "parapharyngeal", "sacrococcygeal")
#: whole labels with a phrase of their own (no rule covers them well)
_SPECIAL = {
    "outside the body": "outside the body",
    "navel": "at the navel",
    "ureter in pelvic cavity": "in the pelvic ureter",
    "left head": "in the left side of the head",
    "right head": "in the right side of the head",
}
#: adjectives before "subcutaneous tissue" that name a body part as a noun
_PART_NOUN = {"occipital": "occipital region", "facial": "face", "abdominal": "abdominal wall"}


def _lower(text: str) -> str:
    """Lower-case common words; keep abbreviations with digits as written."""
    return " ".join(w if _ABBREV_RE.match(w) else w.lower() for w in text.split())


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else _ORDINAL.get(n % 10, "th")
    return f"{n}{suffix}"


def _the(noun: str) -> str:
    """``the`` before a noun phrase (no second article; "X of Y" gets one on Y too)."""
    noun = _lower(noun)
    head, sep, tail = noun.partition(" of ")
    if sep and not tail.startswith("the "):
        noun = f"{head} of the {tail}"
    return noun if noun.startswith("the ") else f"the {noun}"


def _vertebra(name: str) -> str:
    m = re.fullmatch(r"vertebra ([A-Z]\d+)", name, re.IGNORECASE)
    return f"the {m.group(1).upper()} vertebra" if m else _the(name)


def generate(label: str) -> str:
    """The draft report phrase of a location's label (module docstring)."""
    text = " ".join(label.split())
    key = text.casefold()
    if key in _SPECIAL:
        return _SPECIAL[key]
    if m := re.fullmatch(r"near (?:the )?(.+)", text, re.IGNORECASE):
        return f"adjacent to {_vertebra(m.group(1))}"
    if m := re.fullmatch(r"around (?:the )?(.+)", text, re.IGNORECASE):
        return f"around {_the(m.group(1))}"
    if m := re.fullmatch(r"between (.+)", text, re.IGNORECASE):
        return f"between {_the(m.group(1))}"
    if m := re.fullmatch(r"deep aspect of (.+)", text, re.IGNORECASE):
        return f"deep to {_the(m.group(1))}"
    if m := re.fullmatch(r"inner side of (?:the )?(.+)", text, re.IGNORECASE):
        return f"on the inner side of {_the(m.group(1))}"
    if m := re.fullmatch(r"base of (.+)", text, re.IGNORECASE):
        return f"at the base of {_the(m.group(1))}"
    if re.fullmatch(r"vertebra [A-Z]\d+", text, re.IGNORECASE):
        return f"in {_vertebra(text)}"
    if m := re.fullmatch(r"spinous process of (vertebra [A-Z]\d+)", text, re.IGNORECASE):
        return f"in the spinous process of {_vertebra(m.group(1))}"
    if m := re.fullmatch(r"rib ([LR])(\d+)", text, re.IGNORECASE):
        side = "left" if m.group(1).upper() == "L" else "right"
        return f"in the {side} {_ordinal(int(m.group(2)))} rib"
    if m := re.fullmatch(r"liver (S\d)", text, re.IGNORECASE):
        return f"in liver segment {m.group(1).upper()}"
    if m := re.fullmatch(r"mediastinum (\d+[A-Z]?)", text, re.IGNORECASE):
        return f"in mediastinal station {m.group(1).upper()}"
    if m := re.fullmatch(r"(left|right) (upper|middle|lower) lobe (.+) segment", text, re.I):
        side, lobe, seg = (g.lower() for g in m.groups())
        return f"in the {seg} segment of the {side} {lobe} lobe"
    if m := re.fullmatch(r"((?:left|right) )?(.+) subcutaneous tissue", text, re.IGNORECASE):
        side, part = (m.group(1) or "").lower(), _lower(m.group(2))
        return f"in the subcutaneous tissue of the {side}{_PART_NOUN.get(part, part)}"
    if key.endswith(_ADJECTIVE_ENDINGS):
        return f"in {_the(text)} region"
    return f"in {_the(text)}"


def phrase_of(term) -> str:
    """A term's report phrase: its annotation, or the generated one when it has none."""
    return (term.report_phrase or "").strip() or generate(term.label)


_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def problems(ont) -> list[str]:
    """What is wrong with the terms' report phrases (empty when all are fine): each term has
    one, it starts with a preposition, says no "near", keeps the label's abbreviations
    ("S7", "4R", "T8") and writes every other word in lower case."""
    out = []
    for t in ont:
        p = t.report_phrase
        if not p.strip():
            out.append(f"{t.curie} {t.label!r}: no report phrase")
            continue
        if not any(p == w or p.startswith(w + " ") for w in PREPOSITIONS):
            out.append(f"{t.curie} {t.label!r}: {p!r} does not start with a preposition")
        if re.search(r"\bnear\b", p, re.IGNORECASE):
            out.append(f"{t.curie} {t.label!r}: {p!r} says 'near' (write 'adjacent to')")
        for w in _WORD_RE.findall(p):
            if not _ABBREV_RE.match(w) and w != w.lower():
                out.append(f"{t.curie} {t.label!r}: {p!r} has the capitalised word {w!r}")
        for w in _WORD_RE.findall(t.label):
            if _ABBREV_RE.match(w) and not re.fullmatch(r"[LR]\d+", w) and w not in p.split():
                out.append(f"{t.curie} {t.label!r}: {p!r} drops the abbreviation {w!r}")
    return out
