"""Rebuild the shipped ontology from the curation tables (a developer tool, not shipped).

    python tools/build_ontology.py            # rewrite ontology/data/anatloc.ttl
    python tools/build_ontology.py --check    # exit 1 when the shipped file is out of date

The shipped Turtle file is the source of truth for users; this script is how its curated
content was written, through the library's own edit API, and it is idempotent: CURIEs are
kept from the existing file (matched by level and label), new terms get new numbers, and
numbers of removed terms are never reused.

Stages: the location list (``/shared/anatomy/locations.tsv``, or the existing file) →
curated knowledge (``tools/curation/terms.tsv``, ``relations.tsv``, ``landmarks.tsv``) →
atlas geometry (``tools/curation/atlas.json``) → derived facts (``anatloc ontology derive``)
→ generated descriptions (``anatloc ontology describe``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from collections import defaultdict
from pathlib import Path

from anatloc.ontology import load_ontology, serialize
from anatloc.ontology.io import save_ontology, shipped_path
from anatloc.ontology.model import Ontology
from anatloc.ontology.tsv import read_location_list

ROOT = Path(__file__).resolve().parents[1]
CURATION = ROOT / "tools" / "curation"
LOCATIONS = CURATION / "locations.tsv"  # the reference vocabulary (shared/anatomy)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _split(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split("|") if x.strip())


def base_ontology(locations: Path | None) -> Ontology:
    """The existing shipped ontology (keeps CURIEs), or a fresh one from the location list."""
    path = shipped_path()
    if path.exists() and path.stat().st_size > 0:
        ont = load_ontology(path)
    else:
        ont = read_location_list((locations or LOCATIONS).read_text(encoding="utf-8"))
    if locations is not None:  # add terms that the list has and the file lacks
        fresh = read_location_list(locations.read_text(encoding="utf-8"))
        for t in fresh:
            if not ont.find(t.label, t.level):
                parent = fresh[t.parent] if t.parent else None
                ont.add(
                    t.label,
                    ont.get(parent.label, parent.level) if parent else None,
                    level=t.level,
                    laterality=t.laterality,
                )
    return ont


def key_index(ont: Ontology) -> dict[tuple[str, str], str]:
    return {(t.level, t.label): t.curie for t in ont}


def apply_knowledge(ont: Ontology) -> None:
    idx = key_index(ont)
    terms = {}
    for r in _rows(CURATION / "terms.tsv"):
        c = idx[(r["level"], r["label"])]
        terms[c] = dict(
            laterality=r["laterality"],
            tissue=r["tissue"],
            definition=r["definition"].strip(),
            exact_synonyms=_split(r["exact_synonyms"]),
            related_synonyms=_split(r["related_synonyms"]),
            preferred_synonym=r["preferred_synonym"].strip(),
            xrefs=_split(r["xrefs"]),
        )
    landmarks = {idx[(r["level"], r["label"])] for r in _rows(CURATION / "landmarks.tsv")}
    relations: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    from anatloc.ontology import vocab

    for r in _rows(CURATION / "relations.tsv"):
        a = idx[(r["subject_level"], r["subject_label"])]
        b = idx[(r["object_level"], r["object_label"])]
        relations[a][r["relation"]].add(b)
        if vocab.RELATIONS[r["relation"]].symmetric:
            relations[b][r["relation"]].add(a)
    replaced = []
    for t in ont:
        changes = terms.get(t.curie, {})
        rel = {k: v for k, v in t.relations.items() if vocab.RELATIONS[k].derived}
        rel.update({k: tuple(sorted(v)) for k, v in relations.get(t.curie, {}).items()})
        replaced.append(
            dataclasses.replace(t, **changes, landmark=t.curie in landmarks, relations=rel)
        )
    ont.replace_with(Ontology(replaced, ont.meta, foreign=ont.foreign))


def apply_atlas(ont: Ontology) -> bool:
    path = CURATION / "atlas.json"
    if not path.exists():
        return False
    from anatloc.ontology import atlas
    from anatloc.ontology.model import canonical_json

    data = json.loads(path.read_text(encoding="utf-8"))
    mapping = {t.label: t.curie for t in ont.terms("fine")}
    replaced = []
    for t in ont:
        spec = data["locations"].get(t.label) if t.level == "fine" else None
        geom = canonical_json(atlas.rewrite_refs(spec, mapping)) if spec else ""
        replaced.append(dataclasses.replace(t, geometry=geom))
    meta = dataclasses.replace(
        ont.meta, atlas_frame=canonical_json(atlas.rewrite_refs(data["frame"], mapping))
    )
    ont.replace_with(Ontology(replaced, meta, foreign=ont.foreign))
    return True


def build(locations: Path | None = None, with_atlas: bool = True) -> Ontology:
    ont = base_ontology(locations)
    apply_knowledge(ont)
    if with_atlas and apply_atlas(ont):
        from anatloc.ontology.derive import derive

        derive(ont)
    try:
        from anatloc.ontology.describe import describe_all
    except ImportError:
        pass
    else:
        describe_all(ont)
    return ont


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--check", action="store_true", help="only check that the shipped file is up to date"
    )
    ap.add_argument(
        "--locations", type=Path, default=None, help="also add terms from this location list"
    )
    ap.add_argument("--no-atlas", action="store_true", help="skip the atlas and derived stages")
    args = ap.parse_args(argv)
    ont = build(args.locations, with_atlas=not args.no_atlas)
    new = serialize(ont, "ttl")
    old = shipped_path().read_bytes() if shipped_path().exists() else b""
    if args.check:
        if new != old:
            print(
                "ontology/data/anatloc.ttl is out of date: run python tools/build_ontology.py",
                file=sys.stderr,
            )
            return 1
        print("ontology/data/anatloc.ttl is up to date")
        return 0
    save_ontology(ont, shipped_path(), allow_shipped=True)
    print(f"wrote {shipped_path()} ({len(ont)} terms, {ont.content_hash()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
