#!/usr/bin/env python3
"""Check the curated anatomy tables against the location vocabulary (stdlib only).

Usage:
    python tools/curation/check_knowledge.py [--vocabulary PATH] [--dir DIR]

Prints one line per problem and exits 1 when there are any; prints nothing and
exits 0 when the tables pass.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from curation_tables import VOCABULARY as DEFAULT_VOCAB  # noqa: E402

LEVELS = ("region", "coarse", "fine")
LATERALITY = {"left", "right", "midline", "unsided"}
TISSUES = {
    "bone",
    "joint",
    "lymph_node_station",
    "solid_organ",
    "gland",
    "hollow_organ",
    "vessel",
    "muscle",
    "subcutaneous_fat",
    "space",
    "serous_membrane",
    "skin_surface",
    "airway",
    "lung",
    "brain",
    "sensory_organ",
    "mixed",
    "outside_body",
}
XREF_WHITELIST = {
    "UBERON:0002107",
    "UBERON:0000955",
    "UBERON:0000948",
    "UBERON:0002106",
    "UBERON:0000945",
    "UBERON:0001264",
    "UBERON:0002110",
    "UBERON:0001255",
    "UBERON:0001043",
    "UBERON:0003126",
    "UBERON:0002046",
    "UBERON:0002367",
    "UBERON:0000995",
    "UBERON:0000996",
    "UBERON:0000989",
    "UBERON:0000975",
    "UBERON:0001052",
    "UBERON:0001153",
    "UBERON:0001154",
    "UBERON:0000059",
    "UBERON:0002108",
    "UBERON:0001737",
    "UBERON:0001723",
}
RELATIONS = {"surrounds", "contralateral_to", "adjacent_to"}
SYMMETRIC = {"contralateral_to", "adjacent_to"}
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
REL_COLUMNS = ["subject_level", "subject_label", "relation", "object_level", "object_label"]
LANDMARK_COLUMNS = ["level", "label", "reason"]
NEAR_RE = re.compile(r"^(Near|Around|Between)\b")
WORD_RE = re.compile(r"[A-Za-z0-9]")


def read_tsv(path, columns, problems):
    """Return the data rows of a strict TSV file (no quoting) as lists of cells."""
    name = os.path.basename(path)
    if not os.path.exists(path):
        problems.append(f"{name}: file missing")
        return []
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if "\r" in text:
        problems.append(f"{name}: contains carriage returns (use LF line endings)")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        problems.append(f"{name}: empty file")
        return []
    header = lines[0].split("\t")
    if header != columns:
        problems.append(f"{name}: header is {header}, expected {columns}")
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(columns):
            problems.append(f"{name}:{i}: {len(cells)} cells, expected {len(columns)}")
            continue
        if any('"' in c for c in cells):
            problems.append(f"{name}:{i}: contains a double quote (no quoting allowed)")
        if any(c != c.strip() for c in cells):
            problems.append(f"{name}:{i}: a cell has leading or trailing whitespace")
        rows.append((i, cells))
    return rows


def load_vocabulary(path, problems):
    terms = set()
    rows = read_tsv(path, ["region", "coarse", "location"], problems)
    for _, (region, coarse, fine) in rows:
        terms.add(("region", region))
        terms.add(("coarse", coarse))
        terms.add(("fine", fine))
    return terms


def split_list(cell):
    return [x for x in cell.split("|")] if cell else []


def check_terms(path, vocab, problems):
    rows = read_tsv(path, TERM_COLUMNS, problems)
    all_labels_ci = {label.casefold() for _, label in vocab}
    seen = Counter()
    info = {}
    owners = {"synonym": {}, "definition": {}, "xref": {}}
    if len(rows) != 519:
        problems.append(f"terms.tsv: {len(rows)} data rows, expected 519")
    for line, cells in rows:
        row = dict(zip(TERM_COLUMNS, cells, strict=False))
        key = (row["level"], row["label"])
        where = f"terms.tsv:{line} {row['level']}/{row['label']}"
        seen[key] += 1
        info[key] = row
        check_term_kind(row, key in vocab, where, problems)
        check_definition(row["definition"], where, owners["definition"], problems)
        check_synonyms(row, where, all_labels_ci, owners["synonym"], problems)
        check_xrefs(row, where, owners["xref"], problems)
    for key, n in seen.items():
        if n > 1:
            problems.append(f"terms.tsv: {key[0]}/{key[1]} appears {n} times")
    for key in sorted(vocab - set(seen)):
        problems.append(f"terms.tsv: missing term {key[0]}/{key[1]}")
    # a coarse term named like one of its fine terms must say it is the coarse group
    fine_labels = {label for level, label in vocab if level == "fine"}
    for (level, label), row in info.items():
        if level == "coarse" and label in fine_labels and "coarse" not in row["definition"]:
            problems.append(
                f"terms.tsv: coarse/{label}: definition should say it is the coarse reporting group"
            )
    return info


def check_term_kind(row, in_vocab, where, problems):
    """Level, membership of the vocabulary, laterality (against the label's words), tissue."""
    if row["level"] not in LEVELS:
        problems.append(f"{where}: bad level {row['level']!r}")
    if not in_vocab:
        problems.append(f"{where}: not a term of locations.tsv")
    lat = row["laterality"]
    if lat not in LATERALITY:
        problems.append(f"{where}: bad laterality {lat!r}")
    words = set(re.findall(r"[A-Za-z]+", row["label"]))
    for side in ("left", "right"):
        if (side.capitalize() in words or side in words) and lat != side:
            problems.append(f"{where}: label names the {side} side but laterality is {lat}")
    for pattern, what in ((r"Rib ([LR])\d+", "rib"), (r"Mediastinum \d([LR])", "station")):
        m = re.fullmatch(pattern, row["label"])
        if m and lat != ("left" if m.group(1) == "L" else "right"):
            problems.append(f"{where}: {what} side and laterality disagree")
    if row["tissue"] not in TISSUES:
        problems.append(f"{where}: bad tissue {row['tissue']!r}")


def check_definition(d, where, owner, problems):
    """One sentence of 10-40 words, not shared with another term."""
    n_words = sum(1 for w in d.split() if WORD_RE.search(w))
    if not d:
        problems.append(f"{where}: empty definition")
    elif not 10 <= n_words <= 40:
        problems.append(f"{where}: definition has {n_words} words (10-40 allowed)")
    if d and not d.endswith("."):
        problems.append(f"{where}: definition does not end with a full stop")
    dk = d.casefold()
    if dk in owner:
        problems.append(f"{where}: same definition as {owner[dk]}")
    else:
        owner[dk] = where


def check_synonyms(row, where, all_labels_ci, owner, problems):
    """No synonym equals a label or occurs twice; the preferred one is an exact synonym."""
    exact = split_list(row["exact_synonyms"])
    related = split_list(row["related_synonyms"])
    for kind, items in (("exact", exact), ("related", related)):
        for syn in items:
            if not syn or syn != syn.strip():
                problems.append(f"{where}: empty or padded {kind} synonym {syn!r}")
                continue
            k = syn.casefold()
            if k in all_labels_ci:
                problems.append(f"{where}: {kind} synonym {syn!r} equals a label")
            if k in owner:
                problems.append(f"{where}: {kind} synonym {syn!r} already used by {owner[k]}")
            else:
                owner[k] = where
    pref = row["preferred_synonym"]
    if pref and pref not in exact:
        problems.append(f"{where}: preferred synonym {pref!r} is not an exact synonym")


def check_xrefs(row, where, owner, problems):
    """Whitelisted IDs only, each on one unsided term."""
    for x in split_list(row["xrefs"]):
        if x not in XREF_WHITELIST:
            problems.append(f"{where}: xref {x!r} not in the whitelist")
        elif x in owner:
            problems.append(f"{where}: xref {x} already used by {owner[x]}")
        else:
            owner[x] = where
        if row["laterality"] in ("left", "right"):
            problems.append(f"{where}: sided term carries an xref")


def check_relations(path, info, problems):
    rows = read_tsv(path, REL_COLUMNS, problems)
    pairs = defaultdict(set)  # unordered pair -> relations
    seen_rows = set()
    surrounds_subjects = set()
    for line, (sl, s, r, ol, o) in rows:
        where = f"relations.tsv:{line} {sl}/{s} {r} {ol}/{o}"
        if not check_relation_row((sl, s), r, (ol, o), info, where, seen_rows, problems):
            continue
        pairs[frozenset([(sl, s), (ol, o)])].add(r)
        if r == "surrounds":
            surrounds_subjects.add((sl, s))
    for pair, rels in pairs.items():
        if "surrounds" in rels and "adjacent_to" in rels:
            names = " / ".join(f"{lv}/{lb}" for lv, lb in sorted(pair))
            problems.append(f"relations.tsv: {names} is both surrounds and adjacent_to")
    # reverse surrounds (A surrounds B and B surrounds A)
    sur = {(tuple(x[1]), tuple(x[2])) for x in seen_rows if x[0] == "surrounds"}
    for a, b in sur:
        if (b, a) in sur and a < b:
            problems.append(f"relations.tsv: {a} and {b} surround each other")
    for level, label in info:
        if NEAR_RE.match(label) and (level, label) not in surrounds_subjects:
            problems.append(f"relations.tsv: {level}/{label} has no surrounds relation")
    check_twins_declared(info, pairs, problems)
    return len(rows)


def check_relation_row(subj, r, obj, info, where, seen_rows, problems):
    """Problems of one relation row; False when the row is not counted as a relation."""
    known = True
    for lvl, lab in (subj, obj):
        if (lvl, lab) not in info:
            problems.append(f"{where}: unknown term {lvl}/{lab}")
            known = False
    if r not in RELATIONS:
        problems.append(f"{where}: unknown relation {r!r}")
        return False
    if subj == obj:
        problems.append(f"{where}: self relation")
        return False
    key = (r, subj, obj) if r not in SYMMETRIC else (r, frozenset([subj, obj]))
    if key in seen_rows:
        problems.append(f"{where}: duplicate relation")
    seen_rows.add(key)
    if r == "contralateral_to" and known:
        a, b = info[subj]["laterality"], info[obj]["laterality"]
        if {a, b} != {"left", "right"}:
            problems.append(f"{where}: contralateral terms are {a} and {b}")
        if subj[0] != obj[0]:
            problems.append(f"{where}: contralateral terms at different levels")
    return True


def named_twin(label):
    """The right-sided label that a left-sided label's words name (a cross-check of the
    curated twins, which are data: templates/terms.tsv, column contralateral)."""
    m = re.fullmatch(r"Rib L(\d+)", label)
    if m:
        return f"Rib R{m.group(1)}"
    m = re.fullmatch(r"Mediastinum (\d)L", label)
    if m:
        return f"Mediastinum {m.group(1)}R"
    return re.sub(r"\bleft\b", "right", re.sub(r"\bLeft\b", "Right", label))


def check_twins_declared(info, pairs, problems):
    """Every left/right twin that exists should be declared contralateral."""
    declared = {frozenset(p) for p, rels in pairs.items() if "contralateral_to" in rels}
    for (level, label), row in info.items():
        if level == "region" or row["laterality"] != "left":
            continue
        twin = named_twin(label)
        if (
            twin != label
            and (level, twin) in info
            and frozenset([(level, label), (level, twin)]) not in declared
        ):
            problems.append(
                f"relations.tsv: {level}/{label} and {level}/{twin} not declared contralateral_to"
            )


def check_landmarks(path, info, problems):
    rows = read_tsv(path, LANDMARK_COLUMNS, problems)
    if not 30 <= len(rows) <= 60:
        problems.append(f"landmarks.tsv: {len(rows)} rows, expected 30 to 60")
    seen = set()
    for line, (level, label, reason) in rows:
        where = f"landmarks.tsv:{line} {level}/{label}"
        if level != "fine":
            problems.append(f"{where}: landmarks must be fine terms")
        if (level, label) not in info:
            problems.append(f"{where}: unknown term")
        if (level, label) in seen:
            problems.append(f"{where}: duplicate landmark")
        seen.add((level, label))
        if not reason:
            problems.append(f"{where}: empty reason")
    return len(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocabulary", default=DEFAULT_VOCAB)
    ap.add_argument("--dir", default=HERE, help="folder holding the three tables")
    ap.add_argument("--stats", action="store_true", help="print counts after the check")
    args = ap.parse_args(argv)
    problems: list[str] = []
    vocab = load_vocabulary(args.vocabulary, problems)
    if len(vocab) != 519:
        problems.append(f"locations.tsv: {len(vocab)} terms, expected 519")
    info = check_terms(os.path.join(args.dir, "terms.tsv"), vocab, problems)
    n_rel = check_relations(os.path.join(args.dir, "relations.tsv"), info, problems)
    n_land = check_landmarks(os.path.join(args.dir, "landmarks.tsv"), info, problems)
    for p in problems:
        print(p)
    if args.stats:
        fine = [r for (lv, _), r in info.items() if lv == "fine"]
        print(
            f"# terms {len(info)}; relations {n_rel}; landmarks {n_land}; "
            f"fine with exact synonym {sum(1 for r in fine if r['exact_synonyms'])}/{len(fine)}; "
            f"xrefs {sum(1 for r in info.values() if r['xrefs'])}",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
