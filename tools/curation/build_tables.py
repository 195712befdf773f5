#!/usr/bin/env python3
"""Build the curated anatomy tables of anatloc from their templates (stdlib only).

The hand-written content lives in ``templates/`` (ROBOT-template style: one header row naming
the columns, one row per term or relation, hand-written values only):

  templates/terms.tsv      one row per term: level, label, laterality, contralateral (the
                           left/right twin at the same level, or empty), tissue, definition,
                           synonyms, preferred synonym, xrefs
  templates/relations.tsv  the curated surrounds and adjacent_to relations
  templates/landmarks.tsv  the fine terms used as landmarks in positional phrases, with reasons

This script derives what is not hand-written and writes, next to itself, the tables that
``tools/build_ontology.py`` and ``check_knowledge.py`` read:

  terms.tsv      the terms in the order of the vocabulary (``locations.tsv``), without the
                 ``contralateral`` column
  relations.tsv  surrounds, then one ``contralateral_to`` row per twin pair (from the left
                 member, in term order), then adjacent_to
  landmarks.tsv  the landmarks, each with level ``fine``

Decisions: twins are declared on both members and must agree (same level, one left and one
right), so a twin is never guessed from a label; the vocabulary is required (a term missing
from it, or a vocabulary term without a template row, is an error rather than a change of
row order).  ``--check`` only compares; ``tests/ontology/test_knowledge.py`` runs the same
comparison, so a template edited without a rebuild fails the tests.

Run:  python tools/curation/build_tables.py && python tools/curation/check_knowledge.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curation_tables import (
    HERE,
    TEMPLATES,
    VOCABULARY,
    CurationError,
    read_table,
    vocabulary_order,
)

TERM_COLUMNS = [
    "level",
    "label",
    "laterality",
    "tissue",
    "definition",
    "exact_synonyms",
    "related_synonyms",
    "preferred_synonym",
    "xrefs",
]
TEMPLATE_TERM_COLUMNS = [*TERM_COLUMNS[:3], "contralateral", *TERM_COLUMNS[3:]]
RELATION_COLUMNS = ["subject_level", "subject_label", "relation", "object_level", "object_label"]
RELATION_ORDER = ("surrounds", "contralateral_to", "adjacent_to")
SIDES = {"left": "right", "right": "left"}


def ordered_terms(terms: list[dict[str, str]], vocabulary: Path) -> list[dict[str, str]]:
    """The template's terms in vocabulary order; every term and every vocabulary entry once."""
    by_key: dict[tuple[str, str], dict[str, str]] = {}
    for t in terms:
        key = (t["level"], t["label"])
        if key in by_key:
            raise CurationError(f"templates/terms.tsv: duplicate term {key}")
        by_key[key] = t
    order = vocabulary_order(vocabulary)
    missing = [k for k in order if k not in by_key]
    unknown = sorted(set(by_key) - set(order))
    if missing or unknown:
        raise CurationError(
            f"templates/terms.tsv and {vocabulary.name} disagree: "
            f"no row for {missing[:5]}, not in the vocabulary {unknown[:5]}"
        )
    return [by_key[k] for k in order]


def twin_relations(terms: list[dict[str, str]]) -> list[dict[str, str]]:
    """One ``contralateral_to`` row per declared twin pair, from its left member."""
    by_key = {(t["level"], t["label"]): t for t in terms}
    rows = []
    for t in terms:
        if not t["contralateral"]:
            continue
        other = by_key.get((t["level"], t["contralateral"]))
        if (
            other is None
            or other["contralateral"] != t["label"]
            or SIDES.get(t["laterality"]) != other["laterality"]
        ):
            raise CurationError(
                f"templates/terms.tsv: {t['level']} {t['label']!r} names the twin "
                f"{t['contralateral']!r}, which must exist at the same level, name it back "
                "and lie on the other side"
            )
        if t["laterality"] == "left":
            rows.append(
                {
                    "subject_level": t["level"],
                    "subject_label": t["label"],
                    "relation": "contralateral_to",
                    "object_level": t["level"],
                    "object_label": other["label"],
                }
            )
    return rows


def render(templates: Path = TEMPLATES, vocabulary: Path = VOCABULARY) -> dict[str, str]:
    """File name -> the text of each generated table."""
    terms = ordered_terms(read_table(templates / "terms.tsv", TEMPLATE_TERM_COLUMNS), vocabulary)
    curated = read_table(templates / "relations.tsv", RELATION_COLUMNS)
    if any(r["relation"] not in ("surrounds", "adjacent_to") for r in curated):
        raise CurationError(
            "templates/relations.tsv: only surrounds and adjacent_to rows belong here "
            "(twins are the contralateral column of templates/terms.tsv)"
        )
    relations = sorted(
        curated + twin_relations(terms), key=lambda r: RELATION_ORDER.index(r["relation"])
    )
    landmarks = read_table(templates / "landmarks.tsv", ["label", "reason"])
    return {
        "terms.tsv": table(TERM_COLUMNS, terms),
        "relations.tsv": table(RELATION_COLUMNS, relations),
        "landmarks.tsv": table(
            ["level", "label", "reason"], [{"level": "fine", **r} for r in landmarks]
        ),
    }


def table(columns: list[str], rows: list[dict[str, str]]) -> str:
    """A strict TSV text: the header, then each row's cells in column order."""
    lines = [columns, *([r[c] for c in columns] for r in rows)]
    return "".join("\t".join(cells) + "\n" for cells in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare with the files on disk")
    ap.add_argument("--vocabulary", type=Path, default=VOCABULARY)
    a = ap.parse_args(argv)
    try:
        tables = render(vocabulary=a.vocabulary)
    except CurationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stale = [n for n, text in tables.items() if not _same(HERE / n, text)]
    if a.check:
        for n in stale:
            print(f"{n} is stale: run python tools/curation/build_tables.py", file=sys.stderr)
        return 1 if stale else 0
    for n in stale:
        tmp = HERE / f".{n}.tmp"
        tmp.write_text(tables[n], encoding="utf-8", newline="\n")
        os.replace(tmp, HERE / n)
    counts = {n: text.count("\n") - 1 for n, text in tables.items()}
    print("  ".join(f"{n}: {c}" for n, c in counts.items()) + f"  (rewrote {len(stale)})")
    return 0


def _same(path: Path, text: str) -> bool:
    return path.exists() and path.read_text(encoding="utf-8") == text


if __name__ == "__main__":
    sys.exit(main())
