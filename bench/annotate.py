"""How well ``anatloc annotate`` names locations in report phrases, and how fast.

    python bench/annotate.py [--json] [--split dev|heldout|all] [--errors] [--encoder]

The test set is ``bench/data/annotate_phrases.tsv``: report-style phrases written for this
benchmark (not generated from the ontology's synonyms), one per row, with the region they
belong to, the acceptable CURIEs of each location they name (``;`` between locations, ``|``
between acceptable alternatives of one location), and each location's status (``a`` affirmed,
``n`` negated, ``u`` uncertain).  ``split`` is ``dev`` (used while writing the rules) or
``heldout`` (about a quarter, chosen by a hash of the text, never looked at while tuning).

Figures, per split:

* ``fine.precision``: distinct resolved CURIEs predicted per phrase that are acceptable for one
  of its locations, over all distinct resolved CURIEs predicted; ``fine.recall``: locations
  with an acceptable CURIE predicted, over all locations.  ``coarse``: the same after mapping
  every CURIE to its coarse term (a region stays a region);
* ``per_region``: fine precision and recall of the phrases of each region;
* ``unresolved_rate``: unresolved mentions over all mentions;
* ``side_errors``: predicted CURIEs that are the other side's twin of an expected one;
* ``negation_accuracy``: over the locations found, the share whose status (affirmed, negated,
  uncertain) is the expected one;
* ``sentences_per_s``: the whole set annotated repeatedly on one process, without the
  embedding fallback (median of repeats).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, machine

from anatloc.kgtools.annotate import Annotator
from anatloc.ontology import load_ontology

DATA = Path(__file__).resolve().parent / "data" / "annotate_phrases.tsv"
STATUS = {"a": "affirmed", "n": "negated", "u": "uncertain"}


def load_set(path: Path = DATA) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    for r in rows:
        r["gold"] = [
            (set(item.split("|")), STATUS[st])
            for item, st in zip(r["locations"].split(";"), r["status"].split(";"), strict=True)
        ]
    return rows


def _coarse(ont, curie: str) -> str:
    t = ont[curie]
    return t.curie if t.level == "region" else ont.coarse_of(t).curie


def score(ont, ann: Annotator, rows: list[dict], errors: list | None = None) -> dict:
    tp = fp = found = total = 0
    ctp = cfp = cfound = 0
    unresolved = mentions = side_err = neg_ok = neg_n = 0
    regions: dict[str, list[int]] = {}
    for r in rows:
        ms = ann.annotate(r["text"])
        mentions += len(ms)
        unresolved += sum(1 for m in ms if m.curie is None)
        pred: dict[str, str] = {}
        for m in ms:
            if m.curie:
                pred.setdefault(m.curie, m.status)
        ok_any = set().union(*(g for g, _ in r["gold"]))
        rtp = sum(1 for c in pred if c in ok_any)
        rfp = len(pred) - rtp
        rfound = 0
        for g, st in r["gold"]:
            hit = [c for c in pred if c in g]
            if hit:
                rfound += 1
                neg_n += 1
                neg_ok += pred[hit[0]] == st
        # coarse
        cpred = {_coarse(ont, c) for c in pred}
        cok = {_coarse(ont, c) for c in ok_any}
        ctp += len(cpred & cok)
        cfp += len(cpred - cok)
        cfound += sum(1 for g, _ in r["gold"] if {_coarse(ont, c) for c in g} & cpred)
        # sides
        for c in pred:
            t = ont[c]
            if t.laterality not in ("left", "right") or c in ok_any:
                continue
            for o in ok_any:
                u = ont[o]
                if (
                    u.laterality in ("left", "right")
                    and u.laterality != t.laterality
                    and (_twin(t.label) == _twin(u.label))
                ):
                    side_err += 1
                    break
        tp, fp, found, total = tp + rtp, fp + rfp, found + rfound, total + len(r["gold"])
        reg = regions.setdefault(r["region"], [0, 0, 0, 0])
        reg[0] += rtp
        reg[1] += rfp
        reg[2] += rfound
        reg[3] += len(r["gold"])
        if errors is not None and (rfp or rfound < len(r["gold"])):
            errors.append(
                f"{r['id']} {r['text']!r}: expected {r['labels']} "
                f"got {[(m.text, m.label or None, m.status) for m in ms]}"
            )
        elif errors is not None:
            for g, st in r["gold"]:
                hit = [c for c in pred if c in g]
                if hit and pred[hit[0]] != st:
                    errors.append(f"{r['id']} {r['text']!r}: status {pred[hit[0]]} != {st}")

    def ratio(a: int, b: int) -> float:
        return round(a / b, 4) if b else 1.0

    return {
        "phrases": len(rows),
        "locations": total,
        "fine": {"precision": ratio(tp, tp + fp), "recall": ratio(found, total)},
        "coarse": {"precision": ratio(ctp, ctp + cfp), "recall": ratio(cfound, total)},
        "per_region": {
            k: {
                "precision": ratio(v[0], v[0] + v[1]),
                "recall": ratio(v[2], v[3]),
                "locations": v[3],
            }
            for k, v in sorted(regions.items())
        },
        "unresolved_rate": ratio(unresolved, mentions) if mentions else 0.0,
        "side_errors": side_err,
        "negation_accuracy": ratio(neg_ok, neg_n),
    }


def _twin(label: str) -> str:
    import re

    t = re.sub(r"\b(left|right)\b", "", label, flags=re.I)
    t = re.sub(r"^Rib [LR]", "Rib ", t.strip())
    return " ".join(t.split()).casefold()


def speed(ann: Annotator, texts: list[str], repeat: int = 5) -> float:
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            ann.annotate(t)
        rates.append(len(texts) / (time.perf_counter() - t0))
    return round(statistics.median(rates), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--split",
        choices=("dev", "heldout", "all"),
        default=None,
        help="one split only (default: dev, heldout and all)",
    )
    ap.add_argument("--errors", action="store_true", help="print the phrases it gets wrong")
    ap.add_argument(
        "--encoder",
        action="store_true",
        help="use the sentence-encoder fallback (loads the text model)",
    )
    args = ap.parse_args(argv)
    ont = load_ontology()
    enc = None
    if args.encoder:
        from anatloc.retriever.text import SentenceEncoder

        enc = SentenceEncoder()
    t0 = time.perf_counter()
    ann = Annotator(ont, encoder=enc)
    build_ms = round((time.perf_counter() - t0) * 1000, 1)
    rows = load_set()
    splits = [args.split] if args.split else ["dev", "heldout", "all"]
    out: dict = {"machine": machine(), "build_ms": build_ms, "encoder": bool(enc)}
    errs: list[str] = []
    for s in splits:
        part = [r for r in rows if s == "all" or r["split"] == s]
        out[s] = score(ont, ann, part, errs if args.errors and s != "all" else None)
    plain = Annotator(ont)
    out["sentences_per_s"] = speed(plain, [r["text"] for r in rows])
    emit(out, args.json)
    if args.errors:
        print("\n".join(errs), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
