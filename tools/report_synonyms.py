"""Report synonyms: the words of radiologists' reports that the ontology's names miss.

    python tools/report_synonyms.py apply     # the reviewed table -> the shipped TTL
    python tools/report_synonyms.py check     # exit 1 when TTL and table disagree, or a row is bad

The reviewed table is ``tools/curation/report_synonyms.tsv`` (columns ``level label
report_synonym note``): one row per (term, words), each with a note saying why.  A row is
written by a person who read report language the annotator missed ("left posterior triangle
of the neck", "frontal lobe", "antecubital fossa"); ``apply`` writes the table into the
shipped ontology as ``anatloc:reportSynonym`` annotations (``Term.report_synonyms``) and
asserts that the content hash did not change: they are vocabulary of ``anatloc annotate``
only and never reach the model.  Grammar (segment numbers, stations, vertebra and rib
numbering, sides, organ adjectives) is not vocabulary and lives in ``kgtools/annotate.py``.

``check`` (also a test) finds: a row whose term does not exist; words that are already a
label or synonym (of this term or another one: the row adds nothing or makes a name
ambiguous); a side word that contradicts the term's laterality; TTL and table that differ.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # annotation_tool, run as a script or loaded by path
TABLE = ROOT / "tools" / "curation" / "report_synonyms.tsv"
COLUMNS = ("level", "label", "report_synonym", "note")


def read_table(path: Path = TABLE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if rows and tuple(rows[0]) != COLUMNS:
        raise SystemExit(f"{path}: columns {tuple(rows[0])} != {COLUMNS}")
    return rows


def wanted(ont, rows: list[dict[str, str]]) -> tuple[dict[str, set[str]], list[str]]:
    """CURIE -> report synonyms the table gives it, and the table's problems."""
    from anatloc.ontology.model import norm

    names: dict[str, set[str]] = {}
    for t in ont:
        for n in (t.label, *t.synonyms):
            names.setdefault(norm(n), set()).add(t.curie)
    out: dict[str, set[str]] = {t.curie: set() for t in ont}
    bad = []
    for n, r in enumerate(rows, start=2):
        where = f"{TABLE.name}:{n}"
        hits = [t for t in ont.find(r["label"]) if t.level == r["level"]]
        if len(hits) != 1:
            bad.append(f"{where}: no single {r['level']} term labelled {r['label']!r}")
            continue
        t, syn = hits[0], " ".join(r["report_synonym"].split())
        if not syn or not r["note"].strip():
            bad.append(f"{where}: empty report synonym or note")
            continue
        if norm(syn) in names:
            bad.append(f"{where}: {syn!r} is already a name of {sorted(names[norm(syn)])}")
        side = re.findall(r"\b(left|right)\b", syn, re.IGNORECASE)
        if side and t.laterality in ("left", "right") and side[0].lower() != t.laterality:
            bad.append(f"{where}: {syn!r} names the other side of {t.label!r}")
        out[t.curie].add(syn)
    return out, bad


def problems(ont, rows: list[dict[str, str]]) -> list[str]:
    want, bad = wanted(ont, rows)
    for t in ont:
        if set(t.report_synonyms) != want[t.curie]:
            bad.append(f"{t.curie} {t.label}: ontology {sorted(t.report_synonyms)} != table")
    return bad


def main(argv: list[str]) -> int:
    from annotation_tool import run

    def apply(ont) -> tuple[int, list[str]]:
        rows = read_table()
        want, bad = wanted(ont, rows)
        if not bad:
            for curie, syns in want.items():
                ont.update(curie, report_synonyms=tuple(sorted(syns)))
        return len(rows), bad

    return run(
        argv,
        __doc__,
        what="report synonyms",
        apply=apply,
        check=lambda o: problems(o, read_table()),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
