"""The command shared by the tools that keep a per-term annotation of the shipped ontology
that never reaches the model (report phrases, report synonyms, SNOMED CT codes): ``apply``
writes it into ``ontology/data/anatloc.ttl`` and asserts that the content hash did not change;
``check`` lists what disagrees (exit 1); ``propose``, where a tool has it, prints a draft.

Each tool passes its own steps to :func:`run`; this module holds the loading, the hash
assertion, the atomic save and the exit codes once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(
    argv: list[str],
    doc: str,
    *,
    what: str,
    apply: Callable[[object], tuple[int, list[str]]],
    check: Callable[[object], list[str]],
    propose: Callable[[object, list[str]], int] | None = None,
) -> int:
    """``argv[0]`` is the step: ``apply`` (``apply(ont)`` edits the ontology and returns how
    many values it wrote and the problems that stop it), ``check`` (``check(ont)``: the
    problems) or ``propose`` (``propose(ont, rest_of_argv)``: the exit code).  Anything else
    prints ``doc`` and returns 2."""
    sys.path.insert(0, str(ROOT))
    from anatloc.ontology import load_ontology
    from anatloc.ontology.io import save_ontology, shipped_path

    cmd = argv[0] if argv else ""
    ont = load_ontology(shipped_path())
    if cmd == "propose" and propose is not None:
        return propose(ont, argv[1:])
    if cmd == "apply":
        before = ont.content_hash()
        n, bad = apply(ont)
        if bad:
            print("\n".join(bad), file=sys.stderr)
            return 1
        assert ont.content_hash() == before, f"{what} changed the content hash"
        save_ontology(ont, shipped_path(), allow_shipped=True)
        print(f"wrote {n} {what} into {shipped_path()}")
        return 0
    if cmd == "check":
        bad = check(ont)
        print("\n".join(bad) if bad else "ok", file=sys.stderr if bad else sys.stdout)
        return 1 if bad else 0
    print(doc, file=sys.stderr)
    return 2
