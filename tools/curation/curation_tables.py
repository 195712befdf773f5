"""Where the curation files live and how they are read (stdlib only; shared by the scripts here).

Decisions:

* The location vocabulary is read from one path, ``tools/curation/locations.tsv`` in this
  repository (:data:`VOCABULARY`), never from a folder of a particular machine; the scripts
  that need it import the path from here, and a missing file is an error, not a quiet fallback.
* The curation tables are strict TSV (UTF-8, LF, one header row, no quoting, ``|`` inside a
  cell separates list items), so they are read with ``str.split`` rather than :mod:`csv`:
  a quote character is data, never syntax.
* Laterality and the left/right twin of a term are data: the hand-edited template
  ``templates/terms.tsv`` names each term's ``contralateral`` partner, ``build_tables.py``
  writes them as ``contralateral_to`` rows of ``relations.tsv``, and :func:`twins` reads them
  back from there for the atlas generator, which no longer derives them from label strings.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
VOCABULARY = HERE / "locations.tsv"
VOCABULARY_COLUMNS = ["region", "coarse", "location"]


class CurationError(Exception):
    """A curation file is missing or malformed."""


def read_table(path: Path, columns: list[str] | None = None) -> list[dict[str, str]]:
    """Rows of a strict TSV file as dicts; ``columns`` (when given) must be its header."""
    if not path.exists():
        raise CurationError(f"{path}: file missing")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise CurationError(f"{path}: empty file")
    header = lines[0].split("\t")
    if columns is not None and header != columns:
        raise CurationError(f"{path}: header is {header}, expected {columns}")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise CurationError(f"{path}:{n}: {len(cells)} cells, expected {len(header)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def read_vocabulary(path: Path = VOCABULARY) -> list[tuple[str, str, str]]:
    """The vocabulary's rows as ``(region, coarse, fine)`` in file order."""
    return [(r["region"], r["coarse"], r["location"]) for r in read_table(path, VOCABULARY_COLUMNS)]


def vocabulary_order(path: Path = VOCABULARY) -> list[tuple[str, str]]:
    """Every term as ``(level, label)`` at its first appearance in the vocabulary, reading
    each row as region, coarse, fine (the row order of ``terms.tsv``)."""
    seen: dict[tuple[str, str], None] = {}
    for region, coarse, fine in read_vocabulary(path):
        for key in (("region", region), ("coarse", coarse), ("fine", fine)):
            seen.setdefault(key)
    return list(seen)


def twins(level: str = "fine", relations: Path = HERE / "relations.tsv") -> dict[str, str]:
    """``label -> contralateral twin`` (both directions) of the terms at ``level``."""
    out: dict[str, str] = {}
    for r in read_table(relations):
        if r["relation"] == "contralateral_to" and r["subject_level"] == level:
            out[r["subject_label"]] = r["object_label"]
            out[r["object_label"]] = r["subject_label"]
    return out
