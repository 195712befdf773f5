"""SNOMED CT codes for the ontology's locations, from the DICOM code tables pydicom ships.

    python tools/snomed_map.py propose [OUT.tsv]   # candidates by label matching (stdout)
    python tools/snomed_map.py apply               # the reviewed table -> the shipped TTL
    python tools/snomed_map.py check               # exit 1 when TTL and table disagree

The reviewed table is ``tools/curation/snomed.tsv``: one row per (term, code) with the
columns ``curie level label match code meaning cids basis note``.  ``match`` is ``exact`` (the
code names the same location) or ``broad`` (the code is broader: Porta hepatis → Liver; a left or
right structure → the unsided code when SNOMED has no lateralised one in the tables).

How a table is made: ``propose`` matches each term's label and exact synonyms against the
meanings of every SNOMED CT concept in ``pydicom.sr`` (case-insensitively, after a few fixed
rewrites: "Vertebra C1" → "C1 vertebra", "Liver S7" → "Couinaud hepatic segment VII",
plural "lymph nodes" → "lymph node", a parenthesised qualifier dropped) — an exact hit is
``exact``; a hit after dropping the words left/right is ``broad`` for a sided term; a term
with no hit inherits its nearest ancestor's codes as ``broad``.  Every row says how it was
found in ``basis`` (label, synonym, unsided, ancestor, hand).  A person then reads the
proposal, fixes or deletes rows (``basis`` = hand, with a ``note``) and saves it as the
reviewed table; ``apply`` writes it into the ontology.  Codes never come from anywhere but
pydicom's tables, and ``check`` (also a test) verifies each code and its meaning there.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # annotation_tool, run as a script or loaded by path
TABLE = ROOT / "tools" / "curation" / "snomed.tsv"
COLUMNS = ("curie", "level", "label", "match", "code", "meaning", "cids", "basis", "note")
_ROMAN = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII"]
_SIDE_RE = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def sct_concepts() -> dict[str, dict[str, list[int]]]:
    """Every SNOMED CT concept in pydicom's tables: code -> {meaning: CIDs it appears in}.

    A code can appear under several meanings ("Kidney" and "Endo-renal" are both 64033007).
    """
    from pydicom.sr._concepts_dict import concepts

    out: dict[str, dict[str, list[int]]] = {}
    for codes in concepts["SCT"].values():
        for code, (meaning, cids) in codes.items():
            out.setdefault(code, {})[meaning] = sorted(cids)
    return out


def _key(text: str) -> str:
    text = re.sub(r"\([^)]*\)", " ", text)
    text = re.sub(r"[^a-z0-9 ]", " ", text.casefold())
    text = re.sub(r"\bthe\b", " ", text)
    text = re.sub(r"\blymph nodes\b", "lymph node", text)
    return re.sub(r"\s+", " ", text).strip()


def _variants(name: str) -> list[str]:
    out = [name]
    m = re.fullmatch(r"(?i)vertebra ([CTL]\d+)", name)
    if m:
        out.append(f"{m.group(1)} vertebra")
    m = re.fullmatch(r"(?i)liver s(\d)", name)
    if m:
        out.append(f"Couinaud hepatic segment {_ROMAN[int(m.group(1))]}")
    return out


def propose(ont) -> list[dict[str, str]]:
    concepts = sct_concepts()
    by_key: dict[str, list[tuple[str, str]]] = {}  # key -> [(code, meaning)]
    for code, meanings in sorted(concepts.items()):
        for meaning in meanings:
            by_key.setdefault(_key(meaning), []).append((code, meaning))
    found: dict[str, list[tuple[str, tuple[str, str], str]]] = {}  # curie -> [(match, code, basis)]
    for t in ont:
        hits: list[tuple[str, str, str]] = []
        names = [(t.label, "label")] + [(s, "synonym") for s in t.exact_synonyms]
        for name, basis in names:
            for v in _variants(name):
                for code in by_key.get(_key(v), []):
                    hits.append(("exact", code, basis))
        if not hits and t.laterality in ("left", "right"):
            for name, _ in names:
                for v in _variants(name):
                    for code in by_key.get(_key(_SIDE_RE.sub(" ", v)), []):
                        hits.append(("broad", code, "unsided"))
        seen: set[str] = set()
        found[t.curie] = [h for h in hits if not (h[1][0] in seen or seen.add(h[1][0]))]
    rows = []
    for t in ont:
        hits = found[t.curie]
        if not hits:
            for a in ont.ancestors(t):
                if found[a.curie]:
                    hits = [("broad", code, f"ancestor {a.label}") for _, code, _ in found[a.curie]]
                    break
        for match, (code, meaning), basis in hits:
            cids = concepts[code][meaning]
            rows.append(
                {
                    "curie": t.curie,
                    "level": t.level,
                    "label": t.label,
                    "match": match,
                    "code": code,
                    "meaning": meaning,
                    "cids": " ".join(map(str, cids)),
                    "basis": basis,
                    "note": "",
                }
            )
    return rows


def write_table(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def read_table(path: Path = TABLE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def problems(ont, rows: list[dict[str, str]]) -> list[str]:
    """Disagreements between the table, pydicom's tables and the ontology."""
    concepts = sct_concepts()
    out = []
    want: dict[str, set[tuple[str, str]]] = {t.curie: set() for t in ont}
    for n, r in enumerate(rows, start=2):
        where = f"{TABLE.name}:{n}"
        if r["curie"] not in want:
            out.append(f"{where}: {r['curie']} is not a term")
            continue
        if ont[r["curie"]].label != r["label"]:
            out.append(f"{where}: {r['curie']} is {ont[r['curie']].label!r}, not {r['label']!r}")
        if r["match"] not in ("exact", "broad"):
            out.append(f"{where}: match {r['match']!r} is neither exact nor broad")
        if r["code"] not in concepts:
            out.append(f"{where}: SCT {r['code']} is not in pydicom's code tables")
        elif r["meaning"] not in concepts[r["code"]]:
            means = " / ".join(concepts[r["code"]])
            out.append(f"{where}: SCT {r['code']} means {means!r}, not {r['meaning']!r}")
        want[r["curie"]].add((r["match"], "SCTID:" + r["code"]))
    for t in ont:
        if set(t.code_matches) != want[t.curie]:
            out.append(f"{t.curie} {t.label}: ontology {sorted(t.code_matches)} != table")
    return out


def main(argv: list[str]) -> int:
    from annotation_tool import run

    def show(ont, rest: list[str]) -> int:
        text = write_table(propose(ont))
        if rest:
            Path(rest[0]).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0

    def apply(ont) -> tuple[int, list[str]]:
        rows = read_table()
        codes: dict[str, list[tuple[str, str]]] = {t.curie: [] for t in ont}
        for r in rows:
            codes[r["curie"]].append((r["match"], "SCTID:" + r["code"]))
        for curie, cm in codes.items():
            ont.update(curie, code_matches=tuple(cm))
        return len(rows), problems(ont, rows)

    return run(
        argv,
        __doc__,
        what="code matches",
        apply=apply,
        check=lambda o: problems(o, read_table()),
        propose=show,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
